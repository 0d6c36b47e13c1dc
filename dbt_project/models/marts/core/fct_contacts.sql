-- One row per touch with a customer, outbound or inbound, up to as_of.
with

contacts as (

    select * from {{ ref('stg_landing__contacts') }}
    where business_date <= {{ as_of_date() }}

),

keys as (

    select * from {{ ref('int_customers_keyed') }}

)

select
    {{ dbt.concat(["contacts.source_system", "':'", "contacts.contact_id"]) }} as contact_key,
    keys.customer_key,
    contacts.source_system,
    contacts.contact_id,
    contacts.occurred_at,
    contacts.business_date,
    contacts.channel,
    contacts.direction,
    coalesce(contacts.contact_type, 'unknown') as contact_type,
    contacts.campaign_id,
    contacts.outcome,
    contacts.cost,
    contacts.batch_id
from contacts
left join keys
    on contacts.source_system = keys.source_system
    and contacts.source_customer_id = keys.source_customer_id
