-- customer_value window and lifetime revenue add up to fct_orders net revenue of the
-- non-anonymous orders (in the value window / up to as_of), and purchase order counts match.
with

orders as (

    select
        sum(case when business_date >= {{ window_start(as_of_date(), var('value_window_days')) }}
            then net_amount else 0 end) as window_revenue,
        sum(net_amount) as lifetime_revenue,
        sum(case when is_purchase and business_date >= {{ window_start(as_of_date(), var('value_window_days')) }}
            then 1 else 0 end) as window_orders,
        sum(case when is_purchase then 1 else 0 end) as lifetime_orders,
        count(distinct customer_key) as customers
    from {{ ref('fct_orders') }}
    where customer_key is not null

),

customer_value as (

    select
        sum(window_net_revenue) as window_revenue,
        sum(lifetime_net_revenue) as lifetime_revenue,
        sum(window_orders) as window_orders,
        sum(lifetime_orders) as lifetime_orders,
        count(*) as customers
    from {{ ref('customer_value') }}

)

select *
from orders
cross join customer_value
where coalesce(orders.window_revenue, 0) <> coalesce(customer_value.window_revenue, 0)
   or coalesce(orders.lifetime_revenue, 0) <> coalesce(customer_value.lifetime_revenue, 0)
   or coalesce(orders.window_orders, 0) <> coalesce(customer_value.window_orders, 0)
   or coalesce(orders.lifetime_orders, 0) <> coalesce(customer_value.lifetime_orders, 0)
   or orders.customers <> customer_value.customers
