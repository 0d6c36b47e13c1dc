-- One row per source customer record with its customer_key, the record's attributes
-- (latest version), the normalised contact identifiers and the source's trust rank:
-- the input of the golden record.
-- A view: only int_customers_golden reads it, and computing it there costs less than
-- writing 1.56M wide rows and reading them back (10M warehouse: ~3.1 s against ~4.9 s).
{{ config(materialized='view') }}
with

keyed as (

    select * from {{ ref('int_customers_keyed') }}

),

customers as (

    select * from {{ ref('stg_landing__customers') }}

),

resolved as (

    select * from {{ source('identity', 'resolved_records') }}

),

referrers as (

    select source_system, source_customer_id, customer_key
    from keyed

)

select
    keyed.customer_key,
    keyed.source_system,
    keyed.source_customer_id,
    keyed.record_origin,
    {{ source_priority_rank('keyed.source_system') }} as source_rank,
    customers.updated_at,
    customers.first_name,
    customers.last_name,
    customers.birth_date,
    customers.gender,
    customers.postal_code,
    customers.city,
    customers.district,
    customers.region,
    customers.country,
    customers.signup_at,
    customers.consent_email,
    customers.consent_sms,
    customers.consent_phone,
    customers.consent_mail,
    customers.referred_by_source_customer_id,
    case
        when referrers.customer_key <> keyed.customer_key then referrers.customer_key
    end as referred_by_customer_key,
    -- the contact address: trimmed and lower-cased (the identity step validated it)
    case when resolved.email_status in ('ok', 'over_shared', 'ambiguous')
        then lower(trim(customers.email)) end as email_address,
    case when resolved.email_status in ('ok', 'over_shared', 'ambiguous')
        then resolved.email_key end as email_key,
    case when resolved.phone_status in ('ok', 'over_shared', 'ambiguous')
        then resolved.phone_e164 end as phone_e164,
    case when resolved.phone_status in ('ok', 'over_shared', 'ambiguous')
        then resolved.phone_is_mobile end as phone_is_mobile
from keyed
left join customers
    on keyed.source_system = customers.source_system
    and keyed.source_customer_id = customers.source_customer_id
left join resolved
    on keyed.source_system = resolved.source_system
    and keyed.source_customer_id = resolved.source_customer_id
left join referrers
    on customers.source_system = referrers.source_system
    and customers.referred_by_source_customer_id = referrers.source_customer_id
