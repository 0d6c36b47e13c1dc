with

products as (

    select * from {{ ref('stg_landing__products') }}

)

select
    product_id,
    product_name,
    category,
    department,
    brand,
    unit_cost
from products
