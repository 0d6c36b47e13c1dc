-- One row per source customer record: the latest version by updated_at, then by delivery.
-- A table, not a view: the identity chain, its tests and the cross-entity checks read it
-- several times a night, and each read of a view would rank every version again.
{{ config(materialized='table') }}

with

source as (

    select * from {{ source('landing', 'customers') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by source_system, source_customer_id
            order by updated_at desc, _batch_id desc, _row_number desc
        ) as version_rank
    from source

),

renamed as (

    select
        source_system,
        source_customer_id,
        updated_at,
        first_name,
        last_name,
        email,
        phone,
        birth_date,
        lower(gender) as gender,
        postal_code,
        city,
        district,
        region,
        upper(country) as country,
        signup_at,
        consent_email,
        consent_sms,
        consent_phone,
        consent_mail,
        referred_by as referred_by_source_customer_id,
        loyalty_id,
        _batch_id as batch_id
    from ranked
    where version_rank = 1

)

select * from renamed
