-- Line items up to as_of with customer_key, product attributes, cost and margin.
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

enriched as (

    select
        {{ dbt.concat(["lines.source_system", "':'", "lines.transaction_id", "':'",
                       dbt.safe_cast("lines.line_number", api.Column.translate_type("string"))]) }}
            as transaction_line_id,
        {{ dbt.concat(["lines.source_system", "':'", "lines.transaction_id"]) }} as order_id,
        lines.source_system,
        lines.transaction_id,
        lines.line_number,
        keys.customer_key,
        lines.occurred_at,
        lines.business_date,
        lines.channel,
        lines.store_id,
        lines.product_id,
        coalesce(products.category, 'unknown') as category,
        coalesce(products.department, 'unknown') as department,
        lines.quantity,
        lines.amount as net_amount,
        coalesce(lines.discount, 0) as discount,
        coalesce(lines.unit_cost, products.unit_cost) as unit_cost,
        lines.campaign_id,
        lines.amount < 0 as is_return,
        lines.batch_id
    from lines
    left join keys
        on lines.source_system = keys.source_system
        and lines.source_customer_id = keys.source_customer_id
    left join products
        on lines.product_id = products.product_id

)

select
    *,
    quantity * unit_cost as cost_amount,
    net_amount - quantity * unit_cost as margin
from enriched
