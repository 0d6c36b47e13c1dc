-- Maps every source customer record to its customer_key. Keys come from the identity
-- resolution (pipelines/identity): records sharing a normalised e-mail, phone or loyalty
-- id belong to one customer, and a customer keeps its key across nights.
with

records as (

    select * from {{ ref('int_customer_records_collected') }}

),

resolved as (

    select * from {{ source('identity', 'resolved_records') }}

)

select
    records.source_system,
    records.source_customer_id,
    records.record_origin,
    resolved.customer_key,
    resolved.link_rule
from records
left join resolved
    on records.source_system = resolved.source_system
    and records.source_customer_id = resolved.source_customer_id
