-- One row per contact; a re-delivered contact_id replaces the earlier version.
with

source as (

    select * from {{ source('landing', 'contacts') }}

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
