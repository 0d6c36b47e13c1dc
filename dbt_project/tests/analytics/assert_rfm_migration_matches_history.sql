-- Migration counts add up to the history: per pair of month-ends, the customers moving
-- into the later month-end equal its snapshot size, and those leaving the earlier
-- month-end (excluding new customers) equal the earlier snapshot size.
with

sizes as (

    select snapshot_date, count(*) as customers
    from {{ ref('rfm_segment_history') }}
    group by snapshot_date

),

moves as (

    select
        from_snapshot_date,
        to_snapshot_date,
        sum(case when to_segment <> '(no snapshot)' then customers else 0 end) as into_later,
        sum(case when from_segment <> '(new customer)' then customers else 0 end) as out_of_earlier
    from {{ ref('rfm_segment_migration') }}
    group by from_snapshot_date, to_snapshot_date

),

pairs as (

    select
        snapshot_date as to_snapshot_date,
        lag(snapshot_date) over (order by snapshot_date) as from_snapshot_date
    from sizes

)

select pairs.*, moves.into_later, moves.out_of_earlier
from pairs
left join moves
    on pairs.to_snapshot_date = moves.to_snapshot_date
left join sizes as later
    on pairs.to_snapshot_date = later.snapshot_date
left join sizes as earlier
    on pairs.from_snapshot_date = earlier.snapshot_date
where pairs.from_snapshot_date is not null
  and (moves.to_snapshot_date is null
       or moves.from_snapshot_date <> pairs.from_snapshot_date
       or moves.into_later <> later.customers
       or moves.out_of_earlier <> earlier.customers)
