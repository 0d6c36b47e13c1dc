-- One row per line item. A corrected re-delivery (same source_system + transaction_id
-- + line_number) replaces the earlier version: the latest batch wins; raw keeps history.
-- Incremental: a night reads only the raw batches newer than the newest one already
-- here (batch ids only grow), and delete+insert on the line key lets the new version
-- replace the old one. --full-refresh rebuilds from all of raw.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_system', 'transaction_id', 'line_number'],
    on_schema_change='fail',
) }}

with

source as (

    select * from {{ source('landing', 'transactions') }}
    {% if is_incremental() %}
    where _batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
    {% endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by source_system, transaction_id, line_number
            order by _batch_id desc, _row_number desc
        ) as version_rank
    from source

),

renamed as (

    select
        source_system,
        transaction_id,
        line_number,
        source_customer_id,
        occurred_at,
        {{ business_date('occurred_at') }} as business_date,
        channel,
        store_id,
        product_id,
        quantity,
        amount,
        discount,
        currency,
        unit_cost,
        campaign_id,
        _batch_id as batch_id
    from ranked
    where version_rank = 1

)

select * from renamed
