-- One row per known customer with an order (purchase or return) on or before as_of:
-- first/last purchase, lifetime and value-window orders, net revenue and margin, and
-- the RFM window's frequency and monetary. One pass over fct_orders shared by
-- customer_value and customer_rfm (macros/analytics/rfm.sql).
with

orders as (

    -- one order's amounts fit decimal(18, 4); 64-bit sums are much faster than 128-bit
    select
        customer_key,
        business_date,
        is_purchase,
        cast(net_amount as decimal(18, 4)) as net_amount,
        -- margin is decimal(38, 7) in fct_orders: narrowing to 64 bits before rounding to
        -- 4 places gives the same value and is ~20x cheaper than rounding a 128-bit decimal
        -- (an order margin beyond 10^11 fails the cast loudly)
        cast(cast(margin as decimal(18, 7)) as decimal(18, 4)) as margin
    from {{ ref('fct_orders') }}

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
