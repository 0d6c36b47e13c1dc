-- One row per known customer with an order (purchase or return) on or before as_of:
-- first/last purchase, lifetime and value-window orders, net revenue and margin, and
-- the RFM window's frequency and monetary. One pass over fct_orders shared by
-- customer_value and customer_rfm (macros/analytics/rfm.sql).
with

orders as (

    {{ orders_as_money(ref('fct_orders')) }}

),

{{ customer_order_metrics_ctes('orders', none, 'all') }}

select
    customer_key,
    snapshot_date as as_of,
    first_order_date,
    first_purchase_date,
    last_purchase_date,
    cast(lifetime_orders as integer) as lifetime_orders,
    lifetime_net_revenue,
    lifetime_margin,
    cast(value_window_orders as integer) as value_window_orders,
    value_window_net_revenue,
    value_window_margin,
    cast(rfm_frequency as integer) as rfm_frequency,
    rfm_monetary
from customer_order_metrics
