-- Every geo level of region_summary adds up to the customer_rfm population and its
-- window revenue (customer_value).
with

population as (

    select
        count(*) as customers,
        sum(coalesce(customer_value.window_net_revenue, 0)) as revenue
    from {{ ref('customer_rfm') }} as rfm
    left join {{ ref('customer_value') }} as customer_value
        on rfm.customer_key = customer_value.customer_key

),

levels as (

    select
        geo_level,
        sum(customers) as customers,
        sum(window_net_revenue) as revenue
    from {{ ref('region_summary') }}
    group by geo_level

)

select levels.*
from levels cross join population
where levels.customers <> population.customers
   or coalesce(levels.revenue, 0) <> coalesce(population.revenue, 0)
