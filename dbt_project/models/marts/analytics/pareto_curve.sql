-- The Lorenz curve of window revenue among the customers ranked in customer_value,
-- at pareto_curve_points evenly spaced customer shares (the curve starts at 0, 0).
-- Between customers the curve is linear, so points do not depend on how the
-- customer count divides by the number of points.
{%- set points = var('pareto_curve_points') | int %}

with

customer_value as (

    select * from {{ ref('customer_value') }}
    where value_rank is not null

),

totals as (

    select count(*) as customers, sum(window_net_revenue) as revenue
    from customer_value

),

ascending as (

    -- position from the lowest revenue up, and revenue of the lowest customers up to here
    select
        totals.customers - customer_value.value_rank + 1 as ascending_rank,
        customer_value.window_net_revenue,
        sum(customer_value.window_net_revenue) over (
            order by customer_value.value_rank desc rows between unbounded preceding and current row
        ) as cumulative_revenue
    from customer_value
    cross join totals

),

points as (

    select cast(generated_number as integer) - 1 as point
    from ({{ dbt.generate_series(points + 1) }}) as series

),

-- a point p covers t = p·n / points customers: k = floor(t) whole ones plus a
-- fraction of customer k + 1
positions as (

    select
        points.point,
        cast(floor(cast(points.point as double) * totals.customers / {{ points }}) as bigint) as whole_customers,
        cast(points.point * totals.customers as double) / {{ points }}
            - floor(cast(points.point as double) * totals.customers / {{ points }}) as fraction,
        totals.revenue
    from points
    cross join totals

),

lorenz as (

    -- revenue of the lowest t customers: all of customer k + 1's running total but
    -- the part (1 - fraction) of customer k + 1 that lies beyond t
    select
        positions.point,
        positions.revenue,
        case
            when ascending.ascending_rank is null then cast(positions.revenue as double)
            else cast(ascending.cumulative_revenue as double)
                 - (1 - positions.fraction) * cast(ascending.window_net_revenue as double)
        end as bottom_revenue
    from positions
    left join ascending
        on ascending.ascending_rank = positions.whole_customers + 1

)

select
    {{ as_of_date() }} as as_of,
    lorenz.point,
    cast(lorenz.point as double) / {{ points }} as customer_share,
    case when lorenz.revenue <> 0
        then lorenz.bottom_revenue / cast(lorenz.revenue as double)
    end as lorenz_revenue_share,
    case when lorenz.revenue <> 0
        then (cast(lorenz.revenue as double) - mirrored.bottom_revenue) / cast(lorenz.revenue as double)
    end as top_revenue_share
from lorenz
inner join lorenz as mirrored
    on mirrored.point = {{ points }} - lorenz.point
where lorenz.point > 0
