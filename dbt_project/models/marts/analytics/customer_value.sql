-- One row per known customer with at least one order (purchase or return) on or
-- before as_of. Window = the value_window_days days ending on as_of (inclusive).
-- Pareto ranking is among the customers with a purchase order in the window; the
-- others have no rank and the tier var('value_tier_unranked').
{%- set window_days = var('value_window_days') | int %}

with

orders as (

    select
        customer_key,
        business_date,
        is_purchase,
        net_amount,
        margin,
        business_date >= {{ window_start(as_of_date(), window_days) }} as is_in_window
    from {{ ref('fct_orders') }}
    where customer_key is not null

),

per_customer as (

    select
        customer_key,
        min(case when is_purchase then business_date end) as first_purchase_date,
        max(case when is_purchase then business_date end) as last_purchase_date,
        sum(case when is_purchase then 1 else 0 end) as lifetime_orders,
        sum(net_amount) as lifetime_net_revenue,
        sum(margin) as lifetime_margin,
        sum(case when is_in_window and is_purchase then 1 else 0 end) as window_orders,
        sum(case when is_in_window then net_amount else 0 end) as window_net_revenue,
        sum(case when is_in_window then margin end) as window_margin
    from orders
    group by customer_key

),

ranked as (

    select
        customer_key,
        row_number() over (order by window_net_revenue desc, customer_key) as value_rank,
        count(*) over () as ranked_customers,
        sum(window_net_revenue) over () as ranked_revenue,
        sum(window_net_revenue) over (
            order by window_net_revenue desc, customer_key
            rows between unbounded preceding and current row
        ) as cumulative_revenue
    from per_customer
    where window_orders > 0

)

select
    per_customer.customer_key,
    {{ as_of_date() }} as as_of,
    {{ window_start(as_of_date(), window_days) }} as window_start_date,
    per_customer.first_purchase_date,
    per_customer.last_purchase_date,
    cast(per_customer.window_orders as integer) as window_orders,
    per_customer.window_net_revenue,
    per_customer.window_margin,
    cast(per_customer.lifetime_orders as integer) as lifetime_orders,
    per_customer.lifetime_net_revenue,
    per_customer.lifetime_margin,
    ranked.value_rank,
    case when ranked.ranked_revenue <> 0
        then cast(per_customer.window_net_revenue as double) / cast(ranked.ranked_revenue as double)
    end as revenue_share,
    case when ranked.ranked_revenue <> 0
        then cast(ranked.cumulative_revenue as double) / cast(ranked.ranked_revenue as double)
    end as cumulative_revenue_share,
    cast(ranked.value_rank as double) / ranked.ranked_customers as cumulative_customer_share,
    {{ value_tier('ranked.value_rank', 'ranked.ranked_customers') }} as value_tier
from per_customer
left join ranked
    on per_customer.customer_key = ranked.customer_key
