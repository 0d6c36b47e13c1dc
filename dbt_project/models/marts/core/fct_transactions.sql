-- Line items up to as_of: one row per source_system + transaction_id + line_number.
with

lines as (

    select * from {{ ref('int_transactions_enriched') }}

)

select
    transaction_line_id,
    order_id,
    customer_key,
    source_system,
    transaction_id,
    line_number,
    occurred_at,
    business_date,
    channel,
    store_id,
    product_id,
    category,
    department,
    quantity,
    net_amount,
    discount,
    unit_cost,
    cost_amount,
    margin,
    is_return,
    campaign_id,
    batch_id
from lines
