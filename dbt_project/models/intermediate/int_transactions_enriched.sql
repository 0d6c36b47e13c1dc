-- Line items up to as_of with customer_key, product attributes, cost and margin.
--
-- Incremental by load batch (delete+insert on transaction_line_id). A night rebuilds only
-- the lines whose result can have changed since the last build:
--   * lines of new or corrected landing batches (batch_id above the newest one here);
--   * lines held back before because they were dated after the previous as_of;
--   * lines of source customer records whose customer_key changed (merge, split, or a
--     customer record that arrived after its purchases);
--   * lines of products re-delivered since (category, department, unit cost).
-- A rerun with an earlier as_of first deletes the lines after it (pre-hook). _build_seq
-- numbers the builds so fct_transactions and fct_orders pick up exactly the rows rebuilt
-- in this one.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='transaction_line_id',
    on_schema_change='fail',
    pre_hook="{{ delete_after_as_of('business_date') }}",
) }}

with

lines as (

    select * from {{ ref('stg_landing__transactions') }}
    where business_date <= {{ as_of_date() }}

),

keys as (

    select * from {{ ref('int_customers_keyed') }}

),

products as (

    select * from {{ ref('stg_landing__products') }}

),

{% if is_incremental() %}

built as (

    select
        coalesce(max(batch_id), 0) as max_batch_id,
        max(business_date) as max_business_date,
        coalesce(max(_build_seq), 0) as build_seq
    from {{ this }}

),

customers_rekeyed as (

    {{ rekeyed_source_records('keys') }}

),

products_changed as (

    select products.product_id
    from products
    where not exists (
        select 1
        from (select distinct product_id, product_batch_id from {{ this }}) as stored
        where stored.product_id = products.product_id
            and stored.product_batch_id = products.batch_id
    )

),

{% endif %}

selected as (

    select lines.*
    from lines
    {% if is_incremental() %}
    cross join built
    where lines.batch_id > built.max_batch_id
        or lines.business_date > built.max_business_date
        or built.max_business_date is null
        or exists (
            select 1 from customers_rekeyed
            where customers_rekeyed.source_system = lines.source_system
                and customers_rekeyed.source_customer_id = lines.source_customer_id
        )
        or lines.product_id in (select product_id from products_changed)
    {% endif %}

),

enriched as (

    select
        {{ dbt.concat(["selected.source_system", "':'", "selected.transaction_id", "':'",
                       dbt.safe_cast("selected.line_number", api.Column.translate_type("string"))]) }}
            as transaction_line_id,
        {{ dbt.concat(["selected.source_system", "':'", "selected.transaction_id"]) }} as order_id,
        selected.source_system,
        selected.transaction_id,
        selected.line_number,
        selected.source_customer_id,
        keys.customer_key,
        selected.occurred_at,
        selected.business_date,
        selected.channel,
        selected.store_id,
        selected.product_id,
        coalesce(products.category, 'unknown') as category,
        coalesce(products.department, 'unknown') as department,
        selected.quantity,
        selected.amount as net_amount,
        coalesce(selected.discount, 0) as discount,
        coalesce(selected.unit_cost, products.unit_cost) as unit_cost,
        selected.campaign_id,
        selected.amount < 0 as is_return,
        selected.batch_id,
        products.batch_id as product_batch_id
    from selected
    left join keys
        on selected.source_system = keys.source_system
        and selected.source_customer_id = keys.source_customer_id
    left join products
        on selected.product_id = products.product_id

)

select
    *,
    quantity * unit_cost as cost_amount,
    net_amount - quantity * unit_cost as margin,
    {% if is_incremental() %}
    (select build_seq + 1 from built)
    {% else %}
    1
    {% endif %} as _build_seq
from enriched
