-- One row per contact; a re-delivered contact_id replaces the earlier version.
-- Incremental like stg_landing__transactions: only raw batches newer than the newest
-- one already here, delete+insert on the contact key.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_system', 'contact_id'],
    on_schema_change='fail',
) }}

with

source as (

    select * from {{ source('landing', 'contacts') }}
    {% if is_incremental() %}
    where _batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
    {% endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by source_system, contact_id
            order by _batch_id desc, _row_number desc
        ) as version_rank
    from source

),

renamed as (

    select
        source_system,
        contact_id,
        source_customer_id,
        occurred_at,
        {{ business_date('occurred_at') }} as business_date,
        channel,
        direction,
        contact_type,
        campaign_id,
        outcome,
        cost,
        _batch_id as batch_id
    from ranked
    where version_rank = 1

)

select * from renamed
