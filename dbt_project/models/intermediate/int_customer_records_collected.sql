-- Every source customer record the warehouse knows: the customers files, plus
-- customer references in transactions and contacts that no customers file describes.
-- A view: only int_customers_keyed reads it (one row per record, so keyed's unique test
-- covers this one), and computing it there saves writing 1.56M rows a night.
{{ config(materialized='view') }}
with

customers as (

    select * from {{ ref('stg_landing__customers') }}

),

transaction_refs as (

    select distinct source_system, source_customer_id
    from {{ ref('stg_landing__transactions') }}
    where source_customer_id is not null

),

contact_refs as (

    select distinct source_system, source_customer_id
    from {{ ref('stg_landing__contacts') }}

),

references_only as (

    select source_system, source_customer_id, 'transaction_reference' as record_origin
    from transaction_refs
    union
    select source_system, source_customer_id, 'contact_reference' as record_origin
    from contact_refs

),

unknown_references as (

    select
        refs.source_system,
        refs.source_customer_id,
        min(refs.record_origin) as record_origin
    from references_only as refs
    left join customers
        on refs.source_system = customers.source_system
        and refs.source_customer_id = customers.source_customer_id
    where customers.source_customer_id is null
    group by refs.source_system, refs.source_customer_id

)

select source_system, source_customer_id, 'customer_file' as record_origin
from customers
union all
select source_system, source_customer_id, record_origin
from unknown_references
