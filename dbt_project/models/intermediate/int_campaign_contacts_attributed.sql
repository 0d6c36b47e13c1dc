-- One row per customer and campaign they were contacted for (outbound contacts with
-- a campaign_id, up to as_of). The customer responded when a contact of the campaign
-- has an outcome in var response_outcomes, or when they placed a purchase order
-- within campaign_attribution_days days from the first contact (the contact day
-- included). The attribution window is closed once it ends on or before as_of.
{%- set attribution_days = var('campaign_attribution_days') | int %}
{%- set outcomes = var('response_outcomes') %}

with

contacts as (

    select * from {{ ref('fct_contacts') }}
    where direction = 'outbound'
      and campaign_id is not null
      and customer_key is not null

),

purchases as (

    select customer_key, business_date
    from {{ ref('fct_orders') }}
    where is_purchase and customer_key is not null

),

campaign_contacts as (

    select
        customer_key,
        campaign_id,
        min(business_date) as first_contact_date,
        max(business_date) as last_contact_date,
        count(*) as contacts,
        max(case when outcome in (
            {%- for o in outcomes %}'{{ o }}'{{ ", " if not loop.last }}{% endfor -%}
        ) then 1 else 0 end) as has_response_outcome
    from contacts
    group by customer_key, campaign_id

),

windowed as (

    select
        *,
        {{ days_before(dbt.dateadd('day', attribution_days, 'first_contact_date'), 1) }}
            as attribution_end_date
    from campaign_contacts

),

order_responses as (

    select
        windowed.customer_key,
        windowed.campaign_id,
        min(purchases.business_date) as first_order_date,
        count(*) as orders_in_window
    from windowed
    inner join purchases
        on windowed.customer_key = purchases.customer_key
        and purchases.business_date >= windowed.first_contact_date
        and purchases.business_date <= windowed.attribution_end_date
    group by windowed.customer_key, windowed.campaign_id

)

select
    windowed.customer_key,
    windowed.campaign_id,
    windowed.first_contact_date,
    windowed.last_contact_date,
    cast(windowed.contacts as bigint) as contacts,
    windowed.attribution_end_date,
    windowed.attribution_end_date <= {{ as_of_date() }} as is_window_closed,
    windowed.has_response_outcome = 1 as has_response_outcome,
    order_responses.first_order_date as first_order_in_window_date,
    cast(coalesce(order_responses.orders_in_window, 0) as bigint) as orders_in_window,
    windowed.has_response_outcome = 1 or order_responses.orders_in_window is not null as is_responded
from windowed
left join order_responses
    on windowed.customer_key = order_responses.customer_key
    and windowed.campaign_id = order_responses.campaign_id
