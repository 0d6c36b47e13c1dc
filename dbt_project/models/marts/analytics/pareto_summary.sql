-- One row: revenue concentration among the customers ranked in customer_value
-- (those with a purchase order in the value window).
{%- set target = var('pareto_revenue_target') %}

with

customer_value as (

    select * from {{ ref('customer_value') }}

),

ranked as (

    select
        value_rank,
        window_net_revenue,
        sum(window_net_revenue) over (
            order by value_rank rows between unbounded preceding and current row
        ) as cumulative_revenue
    from customer_value
    where value_rank is not null

),

totals as (

    select
        count(*) as customers,
        coalesce(sum(window_net_revenue), 0) as revenue
    from ranked

),

known_customers as (

    select
        count(*) as known_customers,
        coalesce(sum(window_net_revenue), 0) as known_customer_revenue
    from customer_value

),

top_bounds as (

    select
        {%- for share in var('pareto_top_shares') %}
        {{ top_count(share, 'customers') }} as top_{{ loop.index }}_bound,
        {%- endfor %}
        cast({{ target }} as decimal(9, 6)) * revenue as target_revenue
    from totals

),

concentration as (

    select
        {%- for share in var('pareto_top_shares') %}
        sum(case when ranked.value_rank <= top_bounds.top_{{ loop.index }}_bound
            then ranked.window_net_revenue else 0 end) as top_{{ (share * 100) | round | int }}pct_revenue,
        {%- endfor %}
        min(case when ranked.cumulative_revenue >= top_bounds.target_revenue
            then ranked.value_rank end) as customers_for_target,
        -- Gini from the ascending order i = n - rank + 1: 2·Σ i·x / (n·Σx) − (n + 1)/n
        sum(cast(totals.customers - ranked.value_rank + 1 as double)
            * cast(ranked.window_net_revenue as double)) as weighted_revenue
    from ranked
    cross join totals
    cross join top_bounds

)

select
    {{ as_of_date() }} as as_of,
    {{ var('value_window_days') | int }} as window_days,
    {{ window_start(as_of_date(), var('value_window_days')) }} as window_start_date,
    {{ as_of_date() }} as window_end_date,
    totals.customers,
    totals.revenue,
    known_customers.known_customers,
    known_customers.known_customer_revenue,
    {%- for share in var('pareto_top_shares') %}
    case when totals.revenue <> 0
        then cast(concentration.top_{{ (share * 100) | round | int }}pct_revenue as double) / cast(totals.revenue as double)
    end as top_{{ (share * 100) | round | int }}pct_revenue_share,
    {%- endfor %}
    cast({{ target }} as double) as revenue_target_share,
    concentration.customers_for_target,
    case when totals.customers > 0
        then cast(concentration.customers_for_target as double) / totals.customers
    end as customer_share_for_target,
    case when totals.customers > 0 and totals.revenue <> 0
        then 2 * concentration.weighted_revenue / (totals.customers * cast(totals.revenue as double))
            - cast(totals.customers + 1 as double) / totals.customers
    end as gini
from totals
cross join known_customers
cross join concentration
