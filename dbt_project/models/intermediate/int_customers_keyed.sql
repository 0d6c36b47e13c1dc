-- Maps every source customer record to its customer_key.
with

records as (

    select * from {{ ref('int_customer_records_collected') }}

)

select
    source_system,
    source_customer_id,
    record_origin,
    dense_rank() over (order by source_system, source_customer_id) as customer_key
from records
