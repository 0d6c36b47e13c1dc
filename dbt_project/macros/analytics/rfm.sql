{#- RFM for one or many snapshot dates, shared by customer_rfm (snapshot = as_of) and
    rfm_segment_history (snapshots = month-ends), so both compute exactly the same thing.

    rfm_ctes(orders, snapshots, cells) emits CTE definitions (to follow a `with`):
      orders    relation with customer_key, business_date, is_purchase, net_amount
                (fct_orders, already limited to business_date <= as_of)
      snapshots relation with one column snapshot_date; every snapshot must be a
                month-end or as_of itself (purchases are bucketed by month, and a
                month bucket must lie wholly on one side of each snapshot)
      cells     relation mapping (r_score, f_score, m_score) to rfm_cell and segment
    and ends with a CTE `rfm_segmented`: one row per customer who purchased on or
    before the snapshot date, per snapshot date. -#}
{% macro rfm_ctes(orders, snapshots, cells) -%}
{%- set window_days = var('rfm_window_days') | int -%}
{%- set bins = var('rfm_bins') | int -%}
{%- set method = var('rfm_tie_method') -%}

rfm_snapshots as (

    select
        snapshot_date,
        {{ window_start('snapshot_date', window_days) }} as window_start_date
    from {{ snapshots }}

),

rfm_known_orders as (

    select customer_key, business_date, is_purchase, net_amount
    from {{ orders }}
    where customer_key is not null

),

-- first and last purchase per customer and month: the lifetime state at any
-- month-end is the combination of the months up to it
rfm_purchase_months as (

    select
        customer_key,
        min(business_date) as first_purchase_in_month,
        max(business_date) as last_purchase_in_month
    from rfm_known_orders
    where is_purchase
    group by customer_key, {{ month_end('business_date') }}

),

rfm_lifetime as (

    select
        rfm_snapshots.snapshot_date,
        rfm_purchase_months.customer_key,
        min(rfm_purchase_months.first_purchase_in_month) as first_purchase_date,
        max(rfm_purchase_months.last_purchase_in_month) as last_purchase_date
    from rfm_purchase_months
    inner join rfm_snapshots
        on rfm_purchase_months.first_purchase_in_month <= rfm_snapshots.snapshot_date
    group by rfm_snapshots.snapshot_date, rfm_purchase_months.customer_key

),

rfm_in_window as (

    select
        rfm_snapshots.snapshot_date,
        rfm_known_orders.customer_key,
        sum(case when rfm_known_orders.is_purchase then 1 else 0 end) as frequency,
        sum(rfm_known_orders.net_amount) as monetary
    from rfm_known_orders
    inner join rfm_snapshots
        on rfm_known_orders.business_date >= rfm_snapshots.window_start_date
        and rfm_known_orders.business_date <= rfm_snapshots.snapshot_date
    group by rfm_snapshots.snapshot_date, rfm_known_orders.customer_key

),

rfm_metrics as (

    select
        rfm_lifetime.snapshot_date,
        rfm_lifetime.customer_key,
        rfm_lifetime.first_purchase_date,
        rfm_lifetime.last_purchase_date,
        cast({{ dbt.datediff('rfm_lifetime.last_purchase_date', 'rfm_lifetime.snapshot_date', 'day') }} as integer)
            as recency_days,
        cast(coalesce(rfm_in_window.frequency, 0) as integer) as frequency,
        cast(coalesce(rfm_in_window.monetary, 0) as decimal(18, 4)) as monetary
    from rfm_lifetime
    left join rfm_in_window
        on rfm_lifetime.snapshot_date = rfm_in_window.snapshot_date
        and rfm_lifetime.customer_key = rfm_in_window.customer_key

),

rfm_scored as (

    select
        *,
        {{ score_bin('recency_days desc', 'snapshot_date', bins, method, 'customer_key') }} as r_score,
        {{ score_bin('frequency', 'snapshot_date', bins, method, 'customer_key') }} as f_score,
        {{ score_bin('monetary', 'snapshot_date', bins, method, 'customer_key') }} as m_score
    from rfm_metrics

),

rfm_segmented as (

    select
        rfm_scored.*,
        {{ cells }}.rfm_cell,
        {{ cells }}.segment,
        cast(rfm_scored.r_score + rfm_scored.f_score + rfm_scored.m_score as double) / 3 as rfm_score
    from rfm_scored
    left join {{ cells }}
        on rfm_scored.r_score = {{ cells }}.r_score
        and rfm_scored.f_score = {{ cells }}.f_score
        and rfm_scored.m_score = {{ cells }}.m_score

)
{%- endmacro %}
