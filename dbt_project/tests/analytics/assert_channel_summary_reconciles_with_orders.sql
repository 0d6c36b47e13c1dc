-- channel_summary adds up to fct_orders: net revenue, purchase orders and return-only orders.
with

orders as (

    select
        sum(net_amount) as revenue,
        sum(case when is_purchase then 1 else 0 end) as purchase_orders,
        sum(case when is_return_only then 1 else 0 end) as return_only_orders
    from {{ ref('fct_orders') }}

),

summary as (

    select
        sum(revenue) as revenue,
        sum(orders) as purchase_orders,
        sum(return_only_orders) as return_only_orders
    from {{ ref('channel_summary') }}

)

select *
from orders cross join summary
where coalesce(orders.revenue, 0) <> coalesce(summary.revenue, 0)
   or coalesce(orders.purchase_orders, 0) <> coalesce(summary.purchase_orders, 0)
   or coalesce(orders.return_only_orders, 0) <> coalesce(summary.return_only_orders, 0)
