-- One row per sales channel and calendar month up to the month of as_of. Customers
-- and orders count purchase orders (return-only orders are counted apart); revenue is
-- net of returns and includes anonymous sales. A customer is multi-channel in a month
-- when, by the end of that month (or as_of), they had bought through 2+ channels.
with

orders as (

    select
        customer_key,
        channel,
        is_purchase,
        is_return_only,
        cast(gross_amount as decimal(18, 4)) as gross_amount,
        cast(returned_amount as decimal(18, 4)) as returned_amount,
        cast(net_amount as decimal(18, 4)) as net_amount,
        {{ period_start('month', 'business_date') }} as month_start
    from {{ ref('fct_orders') }}

),

customer_channels as (

    select * from {{ ref('int_customer_channels_summarised') }}

),

multichannel as (

    select
        customer_key,
        {{ period_start('month', 'multichannel_since') }} as multichannel_month
    from customer_channels
    where multichannel_since is not null

),

monthly as (

    select
        month_start,
        channel,
        sum(case when is_purchase then 1 else 0 end) as orders,
        sum(case when is_return_only then 1 else 0 end) as return_only_orders,
        sum(case when is_purchase and customer_key is null then 1 else 0 end) as anonymous_orders,
        sum(gross_amount) as gross_revenue,
        sum(returned_amount) as returned_amount,
        sum(net_amount) as revenue,
        sum(case when customer_key is not null then net_amount else 0 end) as known_customer_revenue
    from orders
    group by month_start, channel

),

channel_customers as (

    select distinct month_start, channel, customer_key
    from orders
    where is_purchase and customer_key is not null

),

customer_counts as (

    select
        channel_customers.month_start,
        channel_customers.channel,
        count(*) as customers,
        sum(case when multichannel.multichannel_month <= channel_customers.month_start
            then 1 else 0 end) as multichannel_customers
    from channel_customers
    left join multichannel
        on channel_customers.customer_key = multichannel.customer_key
    group by channel_customers.month_start, channel_customers.channel

)

select
    {{ as_of_date() }} as as_of,
    monthly.month_start,
    monthly.channel,
    {{ month_end('monthly.month_start') }} <= {{ as_of_date() }} as is_complete_month,
    cast(coalesce(customer_counts.customers, 0) as bigint) as customers,
    cast(monthly.orders as bigint) as orders,
    cast(monthly.return_only_orders as bigint) as return_only_orders,
    cast(monthly.anonymous_orders as bigint) as anonymous_orders,
    monthly.gross_revenue,
    monthly.returned_amount,
    monthly.revenue,
    monthly.known_customer_revenue,
    case when customer_counts.customers > 0
        then cast(monthly.known_customer_revenue as double) / customer_counts.customers
    end as revenue_per_customer,
    cast(coalesce(customer_counts.multichannel_customers, 0) as bigint) as multichannel_customers,
    case when customer_counts.customers > 0
        then cast(customer_counts.multichannel_customers as double) / customer_counts.customers
    end as multichannel_customer_share
from monthly
left join customer_counts
    on monthly.month_start = customer_counts.month_start
    and monthly.channel = customer_counts.channel
