-- One row per touch with a customer, outbound or inbound, up to as_of.
--
-- Incremental by load batch (delete+insert on contact_key). A night rebuilds the contacts
-- of new or corrected batches, the contacts held back before because they were dated after
-- the previous as_of, and the contacts of source records whose customer_key changed. A
-- rerun with an earlier as_of first deletes the contacts after it (pre-hook).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='contact_key',
    on_schema_change='fail',
    pre_hook="{{ delete_after_as_of('business_date') }}",
) }}

with

contacts as (

    select * from {{ ref('stg_landing__contacts') }}
    where business_date <= {{ as_of_date() }}

),

keys as (

    select * from {{ ref('int_customers_keyed') }}

),

{% if is_incremental() %}

built as (

    select
        coalesce(max(batch_id), 0) as max_batch_id,
        max(business_date) as max_business_date
    from {{ this }}

),

customers_rekeyed as (

    {{ rekeyed_source_records('keys') }}

),

{% endif %}

selected as (

    select contacts.*
    from contacts
    {% if is_incremental() %}
    cross join built
    where contacts.batch_id > built.max_batch_id
        or contacts.business_date > built.max_business_date
        or built.max_business_date is null
        or exists (
            select 1 from customers_rekeyed
            where customers_rekeyed.source_system = contacts.source_system
                and customers_rekeyed.source_customer_id = contacts.source_customer_id
        )
    {% endif %}

)

select
    {{ dbt.concat(["selected.source_system", "':'", "selected.contact_id"]) }} as contact_key,
    keys.customer_key,
    selected.source_system,
    selected.contact_id,
    selected.source_customer_id,
    selected.occurred_at,
    selected.business_date,
    selected.channel,
    selected.direction,
    coalesce(selected.contact_type, 'unknown') as contact_type,
    selected.campaign_id,
    selected.outcome,
    selected.cost,
    selected.batch_id
from selected
left join keys
    on selected.source_system = keys.source_system
    and selected.source_customer_id = keys.source_customer_id
