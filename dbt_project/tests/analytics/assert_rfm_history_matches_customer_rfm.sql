-- When as_of is a month-end, its snapshot in rfm_segment_history equals customer_rfm
-- (both come from the same macro; this guards the incremental logic). Otherwise the
-- latest snapshot is the last month-end before as_of. Rows returned = differences.
{%- set columns = ['customer_key', 'first_purchase_date', 'last_purchase_date', 'recency_days',
                   'frequency', 'monetary', 'r_score', 'f_score', 'm_score', 'rfm_cell', 'segment'] %}
with

is_month_end as (

    select {{ month_end(as_of_date()) }} = {{ as_of_date() }} as flag

),

history as (

    select {{ columns | join(', ') }}
    from {{ ref('rfm_segment_history') }}
    where snapshot_date = {{ as_of_date() }}

),

current_rfm as (

    select {{ columns | join(', ') }}
    from {{ ref('customer_rfm') }}

),

differences as (

    select 'only in history' as side, * from (
        select * from history
        {{ dbt.except() }}
        select * from current_rfm
    ) as a
    union all
    select 'only in customer_rfm' as side, * from (
        select * from current_rfm
        {{ dbt.except() }}
        select * from history
    ) as b

),

latest as (

    select max(snapshot_date) as latest_snapshot
    from {{ ref('rfm_segment_history') }}

)

select differences.side, differences.customer_key, null as latest_snapshot
from differences cross join is_month_end
where is_month_end.flag
union all
select 'latest snapshot is not the last month-end on or before as_of', null, latest.latest_snapshot
from latest
where latest.latest_snapshot is not null
  and latest.latest_snapshot <> {{ last_month_end_on_or_before(as_of_date()) }}
