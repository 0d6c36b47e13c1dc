-- One row per known customer and sales channel they bought through (purchase orders
-- up to as_of), with the first purchase date in the channel and the date on which
-- the customer became multi-channel (first purchase in their second channel).
with

orders as (

    select * from {{ ref('fct_orders') }}
    where customer_key is not null and is_purchase

),

customer_channels as (

    select
        customer_key,
        channel,
        min(business_date) as first_purchase_date,
        count(*) as purchase_orders
    from orders
    group by customer_key, channel

),

ordered as (

    select
        *,
        row_number() over (
            partition by customer_key order by first_purchase_date, channel
        ) as channel_order,
        count(*) over (partition by customer_key) as channels_used
    from customer_channels

)

select
    customer_key,
    channel,
    first_purchase_date,
    cast(purchase_orders as bigint) as purchase_orders,
    cast(channel_order as integer) as channel_order,
    cast(channels_used as integer) as channels_used,
    max(case when channel_order = 2 then first_purchase_date end)
        over (partition by customer_key) as multichannel_since
from ordered
