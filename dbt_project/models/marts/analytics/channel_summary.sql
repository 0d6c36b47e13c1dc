-- One row per sales channel and calendar month up to the month of as_of. Customers
-- and orders count purchase orders (return-only orders are counted apart); revenue is
-- net of returns and includes anonymous sales. A customer is multi-channel in a month
-- when, by the end of that month, they had bought through 2+ channels: the month of
-- their first purchase in their second channel is on or before it.
--
-- Incremental: a night recomputes only the months from the first one whose orders
-- changed (orders_checksum: order ids, customer keys and amounts per month and channel),
-- and always the month of as_of. Earlier months cannot change: a customer's first month
-- in a channel, and so their multi-channel month, moves only through orders in the
-- months recomputed. as_of and is_complete_month are refreshed on every row (post-hook).
-- (fct_orders is read in separate CTEs rather than through one shared CTE, which some
-- engines would materialise)
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='month_start',
    on_schema_change='fail',
    pre_hook="{{ delete_after_as_of('month_start') }}",
    post_hook="{{ refresh_as_of_columns('month_start', 'is_complete_month') }}",
) }}

with

monthly as (

    select
        {{ period_start('month', 'business_date') }} as month_start,
        channel,
        sum(case when is_purchase then 1 else 0 end) as orders,
        sum(case when is_return_only then 1 else 0 end) as return_only_orders,
        sum(case when is_purchase and customer_key is null then 1 else 0 end) as anonymous_orders,
        sum(cast(gross_amount as decimal(18, 4))) as gross_revenue,
        sum(cast(returned_amount as decimal(18, 4))) as returned_amount,
        sum(cast(net_amount as decimal(18, 4))) as revenue,
        sum(case when customer_key is not null then cast(net_amount as decimal(18, 4)) else 0 end)
            as known_customer_revenue,
        {{ rows_checksum(['order_id', 'customer_key', 'is_purchase', 'gross_amount', 'net_amount']) }}
            as orders_checksum
    from {{ ref('fct_orders') }}
    group by {{ period_start('month', 'business_date') }}, channel

),

bounds as (

    {% if is_incremental() %}
    -- from the first month and channel whose orders differ from the stored row (or that
    -- appeared or disappeared), at the latest from the month of as_of
    select
        case
            when changes.first_changed is null or changes.first_changed > as_of_month.month_start
                then as_of_month.month_start
            else changes.first_changed
        end as recompute_from
    from (
        select min(coalesce(monthly.month_start, stored.month_start)) as first_changed
        from monthly
        full outer join {{ this }} as stored
            on monthly.month_start = stored.month_start
            and monthly.channel = stored.channel
        where monthly.month_start is null
            or stored.month_start is null
            or monthly.orders_checksum <> stored.orders_checksum
    ) as changes
    cross join (select {{ period_start('month', as_of_date()) }} as month_start) as as_of_month
    {% else %}
    select min(month_start) as recompute_from from monthly
    {% endif %}

),

-- known customers buying in a channel in a recomputed month
channel_customers as (

    select distinct
        {{ period_start('month', 'orders.business_date') }} as month_start,
        orders.channel,
        orders.customer_key
    from {{ ref('fct_orders') }} as orders
    cross join bounds
    where orders.is_purchase
        and orders.customer_key is not null
        and orders.business_date >= bounds.recompute_from

),

-- each of those customers' first purchase month per channel, over all their history
first_channel_months as (

    select
        customer_key,
        channel,
        min(month_start) as first_month,
        row_number() over (partition by customer_key order by min(month_start), channel) as channel_order
    from (
        select
            {{ period_start('month', 'business_date') }} as month_start,
            channel,
            customer_key
        from {{ ref('fct_orders') }}
        where is_purchase
            and customer_key is not null
            {% if is_incremental() %}
            and customer_key in (select customer_key from channel_customers)
            {% endif %}
    ) as purchases
    group by customer_key, channel

),

-- the month a customer became multi-channel (second channel's first month)
multichannel as (

    select customer_key, first_month as multichannel_month
    from first_channel_months
    where channel_order = 2

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
    {{ month_is_complete('monthly.month_start') }} as is_complete_month,
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
    end as multichannel_customer_share,
    monthly.orders_checksum
from monthly
cross join bounds
left join customer_counts
    on monthly.month_start = customer_counts.month_start
    and monthly.channel = customer_counts.channel
where monthly.month_start >= bounds.recompute_from
