-- One row per known customer with at least one order (purchase or return) on or
-- before as_of. Window = the value_window_days days ending on as_of (inclusive).
-- Pareto ranking is among the customers with a purchase order in the window; the
-- others have no rank and the tier var('value_tier_unranked').
with

per_customer as (

    select * from {{ ref('int_customer_orders_summarised') }}

),

ranked as (

    select
        customer_key,
        row_number() over (order by value_window_net_revenue desc, customer_key) as value_rank,
        sum(value_window_net_revenue) over (
            order by value_window_net_revenue desc, customer_key
            rows between unbounded preceding and current row
        ) as cumulative_revenue
    from per_customer
    where value_window_orders > 0

),

totals as (

    select
        count(*) as ranked_customers,
        sum(value_window_net_revenue) as ranked_revenue
    from per_customer
    where value_window_orders > 0

),

bounds as (

    select {{ value_tier_bounds('ranked_customers') }}
    from totals

)

select
    per_customer.customer_key,
    per_customer.as_of,
    {{ window_start('per_customer.as_of', var('value_window_days')) }} as window_start_date,
    per_customer.first_purchase_date,
    per_customer.last_purchase_date,
    per_customer.value_window_orders as window_orders,
    per_customer.value_window_net_revenue as window_net_revenue,
    per_customer.value_window_margin as window_margin,
    per_customer.lifetime_orders,
    per_customer.lifetime_net_revenue,
    per_customer.lifetime_margin,
    ranked.value_rank,
    case when ranked.value_rank is not null and totals.ranked_revenue <> 0
        then cast(per_customer.value_window_net_revenue as double) / cast(totals.ranked_revenue as double)
    end as revenue_share,
    case when totals.ranked_revenue <> 0
        then cast(ranked.cumulative_revenue as double) / cast(totals.ranked_revenue as double)
    end as cumulative_revenue_share,
    cast(ranked.value_rank as double) / totals.ranked_customers as cumulative_customer_share,
    {{ value_tier('ranked.value_rank', 'bounds') }} as value_tier
from per_customer
left join ranked
    on per_customer.customer_key = ranked.customer_key
cross join totals
cross join bounds
