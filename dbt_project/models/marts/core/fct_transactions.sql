-- Line items up to as_of: one row per source_system + transaction_id + line_number.
-- Incremental by load batch: delete+insert of the lines int_transactions_enriched rebuilt
-- in this run (its newest _build_seq); see that model for what a night rebuilds.
-- depends_on: {{ ref('int_transactions_enriched') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='transaction_line_id',
    on_schema_change='fail',
    pre_hook="{{ delete_after_as_of('business_date') }}",
) }}

with

lines as (

    select * from {{ ref('int_transactions_enriched') }}
    {% if is_incremental() %}
    where _build_seq = (select max(_build_seq) from {{ ref('int_transactions_enriched') }})
    {% endif %}

)

select
    transaction_line_id,
    order_id,
    customer_key,
    source_system,
    transaction_id,
    line_number,
    source_customer_id,
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
