-- Campaign master data: the latest delivery of each campaign_id wins.
with

source as (

    select * from {{ source('landing', 'campaigns') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by campaign_id
            order by _batch_id desc, _row_number desc
        ) as version_rank
    from source

),

renamed as (

    select
        campaign_id,
        name as campaign_name,
        campaign_type,
        channel,
        start_date,
        end_date,
        cost_per_contact
    from ranked
    where version_rank = 1

)

select * from renamed
