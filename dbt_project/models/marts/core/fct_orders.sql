-- One row per transaction (order), with gross sales, returns, net and margin.
-- Incremental: delete+insert of the orders that have a line rebuilt in this run.
-- depends_on: {{ ref('int_transactions_enriched') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='order_id',
    on_schema_change='fail',
    pre_hook="{{ delete_after_as_of('business_date') }}",
) }}

with

lines as (

    select * from {{ ref('fct_transactions') }}
    {% if is_incremental() %}
    where order_id in (
        select order_id from {{ ref('int_transactions_enriched') }}
        where _build_seq = (select max(_build_seq) from {{ ref('int_transactions_enriched') }})
    )
    {% endif %}

),

orders as (

    select
        order_id,
        max(customer_key) as customer_key,
        max(source_system) as source_system,
        max(transaction_id) as transaction_id,
        min(occurred_at) as ordered_at,
        min(business_date) as business_date,
        min(channel) as channel,
        min(store_id) as store_id,
        count(*) as line_count,
        sum(case when not is_return then quantity else 0 end) as item_quantity,
        sum(case when not is_return then net_amount else 0 end) as gross_amount,
        -sum(case when is_return then net_amount else 0 end) as returned_amount,
        sum(net_amount) as net_amount,
        sum(discount) as discount,
        sum(cost_amount) as cost_amount,
        sum(margin) as margin,
        sum(case when unit_cost is null then 1 else 0 end) as lines_without_cost,
        sum(case when not is_return then 1 else 0 end) as purchase_lines,
        max(campaign_id) as campaign_id
    from lines
    group by order_id

)

select
    order_id,
    customer_key,
    source_system,
    transaction_id,
    ordered_at,
    business_date,
    channel,
    store_id,
    line_count,
    item_quantity,
    gross_amount,
    returned_amount,
    net_amount,
    discount,
    cost_amount,
    case when lines_without_cost = 0 then margin end as margin,
    lines_without_cost = 0 as is_cost_complete,
    purchase_lines > 0 as is_purchase,
    purchase_lines = 0 as is_return_only,
    customer_key is null as is_anonymous,
    campaign_id
from orders
