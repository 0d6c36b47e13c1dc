{#- Customer order metrics and RFM scores for one or many snapshot dates.

    One code path serves int_customer_orders_summarised / customer_rfm (snapshot = as_of)
    and rfm_segment_history (snapshots = month-ends), so a month-end snapshot is exactly
    what customer_rfm gives with as_of = that month-end. -#}

{#- CTEs (to follow a `with`) ending in `customer_order_metrics`: one row per snapshot
    date and known customer with an order on or before it.
      orders    relation with customer_key, business_date, is_purchase, net_amount, margin
      snapshots relation with one column snapshot_date, or none for the single snapshot
                as_of (then no join: orders are already limited to as_of)
      scope     'all' (value-window and lifetime money too) or 'rfm' (what RFM needs)
    Money is returned as decimal(18, 4) (one customer's sums), which keeps the
    downstream window functions on 64-bit decimals. -#}
{% macro customer_order_metrics_ctes(orders, snapshots=none, scope='all') -%}
{%- if snapshots is none -%}
    {%- set snapshot_date = as_of_date() -%}
    {%- set value_window_start = window_start(as_of_date(), var('value_window_days')) -%}
    {%- set rfm_window_start = window_start(as_of_date(), var('rfm_window_days')) -%}
{%- else -%}
    {%- set snapshot_date = 'metric_snapshots.snapshot_date' -%}
    {%- set value_window_start = 'metric_snapshots.value_window_start' -%}
    {%- set rfm_window_start = 'metric_snapshots.rfm_window_start' -%}
{%- endif -%}
{%- set money = 'decimal(18, 4)' -%}
{%- if snapshots is not none -%}
metric_snapshots as (

    select
        snapshot_date,
        {{ window_start('snapshot_date', var('value_window_days')) }} as value_window_start,
        {{ window_start('snapshot_date', var('rfm_window_days')) }} as rfm_window_start
    from {{ snapshots }}

),

{% endif -%}
customer_order_metrics as (

    select
        {{ snapshot_date }} as snapshot_date,
        orders.customer_key,
        min(case when orders.is_purchase then orders.business_date end) as first_purchase_date,
        max(case when orders.is_purchase then orders.business_date end) as last_purchase_date,
        {%- if scope == 'all' %}
        min(orders.business_date) as first_order_date,
        sum(case when orders.is_purchase then 1 else 0 end) as lifetime_orders,
        cast(sum(orders.net_amount) as {{ money }}) as lifetime_net_revenue,
        cast(sum(orders.margin) as {{ money }}) as lifetime_margin,
        sum(case when orders.is_purchase and orders.business_date >= {{ value_window_start }}
            then 1 else 0 end) as value_window_orders,
        cast(sum(case when orders.business_date >= {{ value_window_start }}
            then orders.net_amount else 0 end) as {{ money }}) as value_window_net_revenue,
        cast(sum(case when orders.business_date >= {{ value_window_start }}
            then orders.margin end) as {{ money }}) as value_window_margin,
        {%- endif %}
        sum(case when orders.is_purchase and orders.business_date >= {{ rfm_window_start }}
            then 1 else 0 end) as rfm_frequency,
        cast(sum(case when orders.business_date >= {{ rfm_window_start }}
            then orders.net_amount else 0 end) as {{ money }}) as rfm_monetary
    from {{ orders }} as orders
    {%- if snapshots is not none %}
    inner join metric_snapshots
        on orders.business_date <= metric_snapshots.snapshot_date
    {%- endif %}
    where orders.customer_key is not null
    group by {% if snapshots is not none %}metric_snapshots.snapshot_date, {% endif %}orders.customer_key

)
{%- endmacro %}

{#- CTEs ending in `rfm_segmented`: RFM scores and segment per snapshot for the
    customers of `metrics` with a purchase (recency needs one).
      metrics  relation with snapshot_date, customer_key, first_purchase_date,
               last_purchase_date, rfm_frequency, rfm_monetary
      cells    relation mapping (r_score, f_score, m_score) to rfm_cell and segment -#}
{% macro rfm_scored_ctes(metrics, cells) -%}
{%- set bins = var('rfm_bins') | int -%}
{%- set method = var('rfm_tie_method') -%}
rfm_metrics as (

    select
        snapshot_date,
        customer_key,
        first_purchase_date,
        last_purchase_date,
        cast({{ dbt.datediff('last_purchase_date', 'snapshot_date', 'day') }} as integer) as recency_days,
        cast(rfm_frequency as integer) as frequency,
        cast(rfm_monetary as decimal(18, 4)) as monetary,
        case when rfm_frequency > 0 then 1 else 0 end as has_window_purchase
    from {{ metrics }}
    where last_purchase_date is not null

),

-- R is ranked among all customers. F and M are ranked among the customers with a
-- purchase in the window; the others score 1 (no window frequency or spend). Ranking
-- the many lapsed zero-frequency customers too would push every first-time buyer
-- above F = 1 and leave segments like New and Promising unreachable.
rfm_scored as (

    select
        snapshot_date,
        customer_key,
        first_purchase_date,
        last_purchase_date,
        recency_days,
        frequency,
        monetary,
        {{ score_bin('recency_days desc', 'snapshot_date', bins, method, 'customer_key') }} as r_score,
        case when has_window_purchase = 1
            then {{ score_bin('frequency', 'snapshot_date, has_window_purchase', bins, method, 'customer_key') }}
            else 1 end as f_score,
        case when has_window_purchase = 1
            then {{ score_bin('monetary', 'snapshot_date, has_window_purchase', bins, method, 'customer_key') }}
            else 1 end as m_score
    from rfm_metrics

),

rfm_segmented as (

    select
        rfm_scored.*,
        rfm_cells.rfm_cell,
        rfm_cells.segment,
        cast(rfm_scored.r_score + rfm_scored.f_score + rfm_scored.m_score as double) / 3 as rfm_score
    from rfm_scored
    left join {{ cells }} as rfm_cells
        on rfm_scored.r_score = rfm_cells.r_score
        and rfm_scored.f_score = rfm_cells.f_score
        and rfm_scored.m_score = rfm_cells.m_score

)
{%- endmacro %}
