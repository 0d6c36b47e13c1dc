with

campaigns as (

    select * from {{ ref('stg_landing__campaigns') }}

)

select
    campaign_id,
    campaign_name,
    campaign_type,
    channel,
    start_date,
    end_date,
    cost_per_contact
from campaigns
