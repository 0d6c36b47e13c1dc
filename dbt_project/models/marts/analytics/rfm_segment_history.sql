-- One RFM snapshot per customer per month-end on or before as_of, computed exactly
-- like customer_rfm would be with as_of = that month-end (the same macros; when as_of
-- is a month-end, that snapshot is taken from customer_rfm itself).
--
-- Incremental: each run (re)computes the month-ends not yet in the table, as_of itself
-- when it is a month-end, and the latest rfm_history_lookback_months month-ends (late
-- data), and replaces those snapshots whole (delete+insert on snapshot_date). Snapshots
-- after as_of are removed first, so a rerun with an older as_of reproduces the past; a
-- rerun at a month-end takes that month-end again from customer_rfm, which by then may
-- hold late lines or moved customer keys (else the two would disagree). The first run
-- or `--full-refresh` backfills every month-end since the first purchase (or since
-- rfm_history_start), all at once from per-customer running sums over the months
-- (customer_order_metrics_by_month_end_ctes), not one join of the orders per month-end.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='snapshot_date',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() %}delete from {{ this }} where snapshot_date > {{ as_of_date() }}{% endif %}",
        "{{ keep_written_join_sides() }}"
    ],
    post_hook="{{ reset_join_sides() }}"
) }}

{%- set lookback = var('rfm_history_lookback_months') | int -%}
{%- set history_start = var('rfm_history_start') -%}

with

orders as (

    {{ orders_as_money(ref('fct_orders')) }}

),

bounds as (

    select
        {{ month_end('min(business_date)') }} as first_month_end,
        {{ last_month_end_on_or_before(as_of_date()) }} as last_month_end
    from {{ ref('fct_orders') }}
    where is_purchase and customer_key is not null

),

month_starts as (

    {{ date_series(period_start('month', 'first_month_end'), period_start('month', 'last_month_end'),
                   'month', 'month_start', 'bounds') }}

),

month_ends as (

    select {{ month_end('month_start') }} as snapshot_date
    from month_starts

),

wanted as (

    select snapshot_date
    from month_ends
    where snapshot_date <= {{ as_of_date() }}
    {%- if history_start %}
        and snapshot_date >= cast('{{ history_start }}' as date)
    {%- endif %}

),

{% if is_incremental() %}
present as (

    select distinct snapshot_date from {{ this }}

),

snapshots as (

    select wanted.snapshot_date
    from wanted
    left join present
        on wanted.snapshot_date = present.snapshot_date
    where present.snapshot_date is null
        -- as_of's own month-end is taken again (from customer_rfm) by every run at it
        or wanted.snapshot_date = {{ as_of_date() }}
    {%- if lookback > 0 %}
        or {{ period_start('month', 'wanted.snapshot_date') }} > cast({{ dbt.dateadd('month', -lookback,
               period_start('month', last_month_end_on_or_before(as_of_date()))) }} as date)
    {%- endif %}

),
{% else %}
snapshots as (

    select snapshot_date from wanted

),
{% endif %}

-- when as_of itself is a month-end, its snapshot is customer_rfm (same macros)
earlier_snapshots as (

    select snapshot_date from snapshots
    where snapshot_date < {{ as_of_date() }}

),

as_of_snapshot as (

    select snapshot_date from snapshots
    where snapshot_date = {{ as_of_date() }}

),

rfm_cells as (

    select * from {{ ref('int_rfm_cells_segmented') }}

),

{% if is_incremental() -%}
-- a night adds at most a few month-ends: join the orders to each of them
{{ customer_order_metrics_ctes('orders', 'earlier_snapshots', 'rfm') }},
{%- else -%}
-- the backfill: every month-end at once from per-customer running sums
{{ customer_order_metrics_by_month_end_ctes('orders', 'earlier_snapshots') }},
{%- endif %}

{{ rfm_scored_ctes('customer_order_metrics', 'rfm_cells') }}

select
    snapshot_date,
    customer_key,
    first_purchase_date,
    last_purchase_date,
    recency_days,
    frequency,
    monetary,
    r_score,
    f_score,
    m_score,
    rfm_cell,
    rfm_score,
    segment
from rfm_segmented

union all

select
    as_of_snapshot.snapshot_date,
    customer_rfm.customer_key,
    customer_rfm.first_purchase_date,
    customer_rfm.last_purchase_date,
    customer_rfm.recency_days,
    customer_rfm.frequency,
    customer_rfm.monetary,
    customer_rfm.r_score,
    customer_rfm.f_score,
    customer_rfm.m_score,
    customer_rfm.rfm_cell,
    customer_rfm.rfm_score,
    customer_rfm.segment
from {{ ref('customer_rfm') }} as customer_rfm
cross join as_of_snapshot
