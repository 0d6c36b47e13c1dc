-- Product master data: the latest delivery of each product_id wins.
with

source as (

    select * from {{ source('landing', 'products') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by product_id
            order by _batch_id desc, _row_number desc
        ) as version_rank
    from source

),

renamed as (

    select
        product_id,
        name as product_name,
        coalesce(category, 'unknown') as category,
        coalesce(department, 'unknown') as department,
        brand,
        unit_cost,
        _batch_id as batch_id
    from ranked
    where version_rank = 1

)

select * from renamed
