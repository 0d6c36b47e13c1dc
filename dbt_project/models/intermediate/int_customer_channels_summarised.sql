-- One row per known customer with a purchase order up to as_of: the sales channels
-- they bought through, the first one, and the date on which they became multi-channel
-- (their first purchase in a second channel).
with

orders as (

    select customer_key, channel, business_date
    from {{ ref('fct_orders') }}
    where customer_key is not null and is_purchase

),

customer_channels as (

    select
        customer_key,
        channel,
        min(business_date) as first_purchase_date
    from orders
    group by customer_key, channel

),

ordered as (

    select
        *,
        row_number() over (
            partition by customer_key order by first_purchase_date, channel
        ) as channel_order
    from customer_channels

)

select
    customer_key,
    cast(count(*) as integer) as channels_used,
    max(case when channel_order = 1 then channel end) as first_channel,
    min(first_purchase_date) as first_purchase_date,
    max(case when channel_order = 2 then first_purchase_date end) as multichannel_since
from ordered
group by customer_key
