-- Cohort sizes add up to the customers with a purchase order; every cohort is fully
-- active in period 0; cohort revenue adds up to the revenue of those customers from
-- their first purchase month on.
with

purchasers as (

    select
        customer_key,
        min({{ period_start('month', 'business_date') }}) as cohort_month
    from {{ ref('fct_orders') }}
    where customer_key is not null and is_purchase
    group by customer_key

),

expected as (

    -- purchasers has one row per customer; every purchaser has an order from their
    -- cohort month on (the first purchase), so an inner join sums the same revenue
    select
        (select count(*) from purchasers) as customers,
        sum(cast(orders.net_amount as decimal(18, 4))) as revenue
    from purchasers
    inner join {{ ref('fct_orders') }} as orders
        on orders.customer_key = purchasers.customer_key
        and {{ period_start('month', 'orders.business_date') }} >= purchasers.cohort_month

),

cohorts as (

    select
        sum(case when period_number = 0 then cohort_size else 0 end) as customers,
        sum(revenue) as revenue,
        sum(case when period_number = 0 and active_customers <> cohort_size then 1 else 0 end)
            as cohorts_not_fully_active_at_start
    from {{ ref('cohort_retention') }}

)

select *
from expected cross join cohorts
where expected.customers <> coalesce(cohorts.customers, 0)
   or coalesce(expected.revenue, 0) <> coalesce(cohorts.revenue, 0)
   or cohorts.cohorts_not_fully_active_at_start > 0
