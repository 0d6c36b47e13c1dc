-- The map view: customers with a purchase on or before as_of (the customer_rfm
-- population) by region, city and district, with roll-ups (geo_level region, city,
-- district, and one total row). Missing geography shows as 'unknown'; rolled-up
-- levels show '(all)'. Revenue is window net revenue (value window, customer_value).
{%- set top_tiers = var('top_value_tiers') %}

with

rfm as (

    select * from {{ ref('customer_rfm') }}

),

customer_value as (

    select * from {{ ref('customer_value') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

located as (

    select
        rfm.customer_key,
        coalesce(customers.region, 'unknown') as region,
        coalesce(customers.city, 'unknown') as city,
        coalesce(customers.district, 'unknown') as district,
        coalesce(customer_value.window_net_revenue, 0) as window_net_revenue,
        coalesce(customer_value.lifetime_net_revenue, 0) as lifetime_net_revenue,
        case when coalesce(customer_value.window_orders, 0) > 0 then 1 else 0 end as is_active,
        case when customer_value.value_tier in (
            {%- for tier in top_tiers %}'{{ tier }}'{{ ", " if not loop.last }}{% endfor -%}
        ) then 1 else 0 end as is_top_tier,
        rfm.rfm_score,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score
    from rfm
    left join customer_value
        on rfm.customer_key = customer_value.customer_key
    left join customers
        on rfm.customer_key = customers.customer_key

),

rolled_up as (

    select
        case
            when region is null then 'total'
            when city is null then 'region'
            when district is null then 'city'
            else 'district'
        end as geo_level,
        coalesce(region, '(all)') as region,
        coalesce(city, '(all)') as city,
        coalesce(district, '(all)') as district,
        count(*) as customers,
        sum(is_active) as active_customers,
        sum(window_net_revenue) as window_net_revenue,
        sum(lifetime_net_revenue) as lifetime_net_revenue,
        sum(is_top_tier) as top_tier_customers,
        -- from the integer score sum: a float sum's last bits depend on the order the
        -- threads add in, and a rerun must give identical bytes
        cast(sum(r_score + f_score + m_score) as double)
            / nullif(3 * count(rfm_score), 0) as avg_rfm_score,
        avg(cast(r_score as double)) as avg_r_score,
        avg(cast(f_score as double)) as avg_f_score,
        avg(cast(m_score as double)) as avg_m_score
    from located
    group by grouping sets ((region, city, district), (region, city), (region), ())

)

select
    {{ as_of_date() }} as as_of,
    geo_level,
    region,
    city,
    district,
    cast(customers as bigint) as customers,
    cast(active_customers as bigint) as active_customers,
    window_net_revenue,
    cast(window_net_revenue as double) / customers as revenue_per_customer,
    case when active_customers > 0
        then cast(window_net_revenue as double) / active_customers
    end as revenue_per_active_customer,
    lifetime_net_revenue,
    cast(top_tier_customers as bigint) as top_tier_customers,
    cast(top_tier_customers as double) / customers as top_tier_customer_share,
    avg_rfm_score,
    avg_r_score,
    avg_f_score,
    avg_m_score
from rolled_up
