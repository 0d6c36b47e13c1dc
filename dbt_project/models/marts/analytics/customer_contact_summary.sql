-- One row per customer (dim_customers): outbound contacts in the trailing
-- contact_windows_days windows (total and per channel in contact_channels), last
-- contact dates, inbound service contacts and complaints in the last
-- contact_inbound_window_days days, and the response rate to past campaigns
-- (campaigns whose attribution window closed by as_of; int_campaign_contacts_attributed).
{%- set windows = var('contact_windows_days') %}
{%- set channels = var('contact_channels') %}
{%- set inbound_days = var('contact_inbound_window_days') | int %}

with

customers as (

    select customer_key from {{ ref('dim_customers') }}

),

contacts as (

    select * from {{ ref('fct_contacts') }}
    where customer_key is not null

),

campaigns as (

    select * from {{ ref('int_campaign_contacts_attributed') }}

),

{%- set longest = ([inbound_days] + windows) | max %}
-- windowed counts only need the recent contacts
recent_stats as (

    select
        customer_key,
        {%- for w in windows %}
        sum(case when direction = 'outbound'
                  and business_date >= {{ window_start(as_of_date(), w) }} then 1 else 0 end)
            as outbound_contacts_{{ w }}d,
        {%- for ch in channels %}
        sum(case when direction = 'outbound' and channel = '{{ ch }}'
                  and business_date >= {{ window_start(as_of_date(), w) }} then 1 else 0 end)
            as outbound_{{ ch }}_{{ w }}d,
        {%- endfor %}
        {%- endfor %}
        sum(case when direction = 'inbound' and contact_type in (
                {%- for t in var('service_contact_types') %}'{{ t }}'{{ ", " if not loop.last }}{% endfor -%})
                  and business_date >= {{ window_start(as_of_date(), inbound_days) }} then 1 else 0 end)
            as inbound_service_{{ inbound_days }}d,
        sum(case when direction = 'inbound' and contact_type in (
                {%- for t in var('complaint_contact_types') %}'{{ t }}'{{ ", " if not loop.last }}{% endfor -%})
                  and business_date >= {{ window_start(as_of_date(), inbound_days) }} then 1 else 0 end)
            as inbound_complaints_{{ inbound_days }}d
    from contacts
    where business_date >= {{ window_start(as_of_date(), longest) }}
    group by customer_key

),

lifetime_stats as (

    select
        customer_key,
        count(*) as contacts_total,
        max(business_date) as last_contact_date,
        max(case when direction = 'outbound' then business_date end) as last_outbound_contact_date,
        max(case when direction = 'inbound' then business_date end) as last_inbound_contact_date
    from contacts
    group by customer_key

),

campaign_stats as (

    select
        customer_key,
        count(*) as campaigns_contacted,
        sum(case when is_window_closed then 1 else 0 end) as past_campaigns,
        sum(case when is_window_closed and is_responded then 1 else 0 end) as past_campaigns_responded
    from campaigns
    group by customer_key

)

select
    customers.customer_key,
    {{ as_of_date() }} as as_of,
    {%- for w in windows %}
    cast(coalesce(recent_stats.outbound_contacts_{{ w }}d, 0) as bigint) as outbound_contacts_{{ w }}d,
    {%- for ch in channels %}
    cast(coalesce(recent_stats.outbound_{{ ch }}_{{ w }}d, 0) as bigint) as outbound_{{ ch }}_{{ w }}d,
    {%- endfor %}
    {%- endfor %}
    cast(coalesce(recent_stats.inbound_service_{{ inbound_days }}d, 0) as bigint) as inbound_service_{{ inbound_days }}d,
    cast(coalesce(recent_stats.inbound_complaints_{{ inbound_days }}d, 0) as bigint) as inbound_complaints_{{ inbound_days }}d,
    cast(coalesce(lifetime_stats.contacts_total, 0) as bigint) as contacts_total,
    lifetime_stats.last_contact_date,
    lifetime_stats.last_outbound_contact_date,
    lifetime_stats.last_inbound_contact_date,
    cast({{ dbt.datediff('lifetime_stats.last_contact_date', as_of_date(), 'day') }} as integer)
        as days_since_last_contact,
    cast(coalesce(campaign_stats.campaigns_contacted, 0) as bigint) as campaigns_contacted,
    cast(coalesce(campaign_stats.past_campaigns, 0) as bigint) as past_campaigns,
    cast(coalesce(campaign_stats.past_campaigns_responded, 0) as bigint) as past_campaigns_responded,
    case when campaign_stats.past_campaigns > 0
        then cast(campaign_stats.past_campaigns_responded as double) / campaign_stats.past_campaigns
    end as campaign_response_rate
from customers
left join recent_stats
    on customers.customer_key = recent_stats.customer_key
left join lifetime_stats
    on customers.customer_key = lifetime_stats.customer_key
left join campaign_stats
    on customers.customer_key = campaign_stats.customer_key
