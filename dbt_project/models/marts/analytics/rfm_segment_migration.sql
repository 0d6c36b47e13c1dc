-- Customers moving from segment A (previous month-end) to segment B (month-end), for
-- every pair of consecutive month-ends in rfm_segment_history. Customers who first
-- purchased after the previous month-end come from '(new customer)'; a customer
-- missing from the later snapshot (only when customer keys change) goes to
-- '(no snapshot)'. Incremental like rfm_segment_history: pairs are replaced whole
-- (delete+insert on to_snapshot_date) when their later month-end is new, is as_of, or
-- is within the lookback; pairs after as_of are removed first.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='to_snapshot_date',
    on_schema_change='fail',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where to_snapshot_date > {{ as_of_date() }}{% endif %}"
) }}

{%- set lookback = var('rfm_history_lookback_months') | int -%}

with

snapshot_dates as (

    select distinct snapshot_date
    from {{ ref('rfm_segment_history') }}
    where snapshot_date <= {{ as_of_date() }}

),

all_pairs as (

    select
        lag(snapshot_date) over (order by snapshot_date) as from_snapshot_date,
        snapshot_date as to_snapshot_date
    from snapshot_dates

),

pairs as (

    select all_pairs.from_snapshot_date, all_pairs.to_snapshot_date
    from all_pairs
    {%- if is_incremental() %}
    left join (select distinct to_snapshot_date from {{ this }}) as present
        on all_pairs.to_snapshot_date = present.to_snapshot_date
    {%- endif %}
    where all_pairs.from_snapshot_date is not null
    {%- if is_incremental() %}
      and (present.to_snapshot_date is null
        or all_pairs.to_snapshot_date = {{ as_of_date() }}
      {%- if lookback > 0 %}
        or {{ period_start('month', 'all_pairs.to_snapshot_date') }} > cast({{ dbt.dateadd('month', -lookback,
               period_start('month', last_month_end_on_or_before(as_of_date()))) }} as date)
      {%- endif %}
      )
    {%- endif %}

),

-- only the snapshots of the pairs to (re)compute: normally none, or the last two
history as (

    select snapshot_date, customer_key, segment
    from {{ ref('rfm_segment_history') }}
    where snapshot_date >= (select min(from_snapshot_date) from pairs)
      and snapshot_date <= {{ as_of_date() }}

),

later as (

    select pairs.from_snapshot_date, pairs.to_snapshot_date, history.customer_key, history.segment
    from pairs
    inner join history
        on history.snapshot_date = pairs.to_snapshot_date

),

earlier as (

    select pairs.from_snapshot_date, pairs.to_snapshot_date, history.customer_key, history.segment
    from pairs
    inner join history
        on history.snapshot_date = pairs.from_snapshot_date

),

moves as (

    select
        coalesce(later.from_snapshot_date, earlier.from_snapshot_date) as from_snapshot_date,
        coalesce(later.to_snapshot_date, earlier.to_snapshot_date) as to_snapshot_date,
        coalesce(earlier.segment, '(new customer)') as from_segment,
        coalesce(later.segment, '(no snapshot)') as to_segment
    from later
    full outer join earlier
        on later.to_snapshot_date = earlier.to_snapshot_date
        and later.customer_key = earlier.customer_key

),

counted as (

    select
        from_snapshot_date,
        to_snapshot_date,
        from_segment,
        to_segment,
        count(*) as customers
    from moves
    group by from_snapshot_date, to_snapshot_date, from_segment, to_segment

)

select
    from_snapshot_date,
    to_snapshot_date,
    from_segment,
    to_segment,
    from_segment = to_segment as is_same_segment,
    cast(customers as bigint) as customers,
    cast(sum(customers) over (partition by to_snapshot_date, from_segment) as bigint)
        as from_segment_customers,
    cast(customers as double)
        / sum(customers) over (partition by to_snapshot_date, from_segment) as share_of_from_segment
from counted
