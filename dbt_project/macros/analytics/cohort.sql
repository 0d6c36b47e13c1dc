{#- Cohort retention at a grain ('month' or 'week'; weeks start on Monday).

    Cohort = period of the customer's first purchase order. A customer is active in a
    period when they place at least one purchase order in it (fct_orders.is_purchase):
    return-only orders are not activity. Revenue is the net revenue (returns
    subtracted) of the cohort's orders from the cohort period on; a return booked
    before the first purchase belongs to no cohort. Every cohort has a row for every
    period up to the period of as_of, active or not. -#}
{% macro cohort_retention_sql(grain, orders_relation, customers_relation) -%}
with

orders as (

    select
        customer_key,
        business_date,
        is_purchase,
        cast(net_amount as decimal(18, 4)) as net_amount,
        {{ period_start(grain, 'business_date') }} as period_start
    from {{ orders_relation }}
    where customer_key is not null

),

cohorts as (

    -- first_purchase_date per customer (int_customer_orders_summarised)
    select
        customer_key,
        {{ period_start(grain, 'first_purchase_date') }} as cohort_start
    from {{ customers_relation }}
    where first_purchase_date is not null

),

cohort_sizes as (

    select cohort_start, count(*) as cohort_size
    from cohorts
    group by cohort_start

),

activity as (

    select
        cohorts.cohort_start,
        orders.period_start,
        count(distinct case when orders.is_purchase then orders.customer_key end) as active_customers,
        sum(case when orders.is_purchase then 1 else 0 end) as purchase_orders,
        sum(orders.net_amount) as revenue
    from orders
    inner join cohorts
        on orders.customer_key = cohorts.customer_key
    where orders.period_start >= cohorts.cohort_start
    group by cohorts.cohort_start, orders.period_start

),

bounds as (

    select
        min(cohort_start) as first_period,
        {{ period_start(grain, as_of_date()) }} as last_period
    from cohort_sizes

),

periods as (

    {{ date_series('first_period', 'last_period', grain, 'period_start', 'bounds') }}

),

grid as (

    select
        cohort_sizes.cohort_start,
        cohort_sizes.cohort_size,
        periods.period_start,
        {{ periods_between(grain, 'cohort_sizes.cohort_start', 'periods.period_start') }} as period_number
    from cohort_sizes
    inner join periods
        on periods.period_start >= cohort_sizes.cohort_start

),

measured as (

    select
        grid.cohort_start,
        grid.period_number,
        grid.period_start,
        grid.cohort_size,
        cast(coalesce(activity.active_customers, 0) as bigint) as active_customers,
        cast(coalesce(activity.purchase_orders, 0) as bigint) as purchase_orders,
        coalesce(activity.revenue, 0) as revenue
    from grid
    left join activity
        on grid.cohort_start = activity.cohort_start
        and grid.period_start = activity.period_start

)

select
    {{ as_of_date() }} as as_of,
    cohort_start as cohort_{{ grain }},
    period_number,
    period_start,
    {%- if grain == 'week' %}
    {{ days_before(dbt.dateadd('day', 7, 'period_start'), 1) }} <= {{ as_of_date() }} as is_complete_period,
    {%- else %}
    {{ month_is_complete('period_start') }} as is_complete_period,
    {%- endif %}
    cohort_size,
    active_customers,
    cast(active_customers as double) / cohort_size as retention_rate,
    purchase_orders,
    revenue,
    cast(revenue as double) / cohort_size as revenue_per_cohort_customer,
    cast(sum(revenue) over (
        partition by cohort_start order by period_number
        rows between unbounded preceding and current row
    ) as double) / cohort_size as cumulative_revenue_per_cohort_customer
from measured
{%- endmacro %}
