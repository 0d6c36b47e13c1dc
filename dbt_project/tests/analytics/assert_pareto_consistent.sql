-- pareto_summary and pareto_curve agree with customer_value and with themselves:
-- customers and revenue equal the ranked customers; the last cumulative share is 1;
-- top shares grow with the fraction; the curve ends at 1, never decreases for
-- non-negative revenue, and its top-20% point equals top_20pct_revenue_share when
-- 20% of the customers is a whole number.
with

ranked_customers as (

    select * from {{ ref('customer_value') }}
    where value_rank is not null

),

ranked as (

    select
        count(*) as customers,
        sum(window_net_revenue) as revenue,
        max(case when value_rank = customers_ranked then cumulative_revenue_share end)
            as last_cumulative_share,
        min(window_net_revenue) as min_revenue,
        max(value_rank) as max_rank
    from ranked_customers
    cross join (select count(*) as customers_ranked from ranked_customers) as n

),

summary as (

    select * from {{ ref('pareto_summary') }}

),

curve_end as (

    select lorenz_revenue_share, top_revenue_share
    from {{ ref('pareto_curve') }}
    where point = {{ var('pareto_curve_points') }}

),

curve_steps as (

    select
        lorenz_revenue_share - lag(lorenz_revenue_share) over (order by point) as lorenz_step,
        customer_share,
        top_revenue_share
    from {{ ref('pareto_curve') }}

),

problems as (

    select 'summary customers/revenue differ from customer_value' as problem
    from summary cross join ranked
    where summary.customers <> ranked.customers
       or coalesce(summary.revenue, 0) <> coalesce(ranked.revenue, 0)
       or ranked.max_rank <> ranked.customers

    union all
    select 'last cumulative revenue share is not 1'
    from ranked
    where ranked.customers > 0 and ranked.revenue <> 0
      and abs(ranked.last_cumulative_share - 1) > 1e-9

    union all
    select 'top shares not increasing'
    from summary
    where summary.top_1pct_revenue_share > summary.top_5pct_revenue_share + 1e-12
       or summary.top_5pct_revenue_share > summary.top_10pct_revenue_share + 1e-12
       or summary.top_10pct_revenue_share > summary.top_20pct_revenue_share + 1e-12

    union all
    select 'gini out of [0, 1] with non-negative revenue'
    from summary cross join ranked
    where ranked.min_revenue >= 0 and (summary.gini < -1e-12 or summary.gini > 1)

    union all
    select 'curve does not end at 1'
    from curve_end cross join ranked
    where ranked.revenue <> 0
      and (abs(curve_end.lorenz_revenue_share - 1) > 1e-9 or abs(curve_end.top_revenue_share - 1) > 1e-9)

    union all
    select 'Lorenz curve decreases with non-negative revenue'
    from curve_steps cross join ranked
    where ranked.min_revenue >= 0 and curve_steps.lorenz_step < -1e-12

    union all
    select 'curve top 20% differs from summary'
    from curve_steps cross join summary cross join ranked
    where abs(curve_steps.customer_share - 0.2) < 1e-12
      and mod(ranked.customers, 5) = 0
      and abs(curve_steps.top_revenue_share - summary.top_20pct_revenue_share) > 1e-9

)

select * from problems
