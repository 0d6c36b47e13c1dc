{#- Customer order metrics and RFM scores for one or many snapshot dates.

    One code path serves int_customer_orders_summarised / customer_rfm (snapshot = as_of)
    and rfm_segment_history (snapshots = month-ends), so a month-end snapshot is exactly
    what customer_rfm gives with as_of = that month-end. -#}

{#- The `orders` input of the macros below: fct_orders (`relation`) with one order's money
    as 64-bit decimal(18, 4), which it fits; 64-bit sums are much faster than 128-bit.
    Margin is decimal(38, 7) there: narrowing it to decimal(18, 7) before rounding gives
    the same value and is ~20x cheaper in DuckDB than rounding the 128-bit decimal (an
    order margin beyond 10^11 fails the cast loudly). -#}
{% macro orders_as_money(relation) -%}
    select
        customer_key,
        business_date,
        is_purchase,
        cast(net_amount as decimal(18, 4)) as net_amount,
        cast(cast(margin as decimal(18, 7)) as decimal(18, 4)) as margin
    from {{ relation }}
{%- endmacro %}

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
      cells    relation mapping (r_score, f_score, m_score) to rfm_cell and segment

    With rfm_tie_method 'rank' no row is sorted: score = floor((rank - 1) × bins / n) + 1
    is looked up per snapshot and value, so the customers are not ranked one by one.
    Recency and frequency take few distinct values: rank - 1 = the customers with a
    worse value, counted per value. For monetary, floor((rank - 1) × bins / n) >= j
    exactly when rank - 1 >= ceil(j × n / bins), i.e. when monetary is above the
    ceil(j × n / bins)-th smallest value: score = 1 + the number of those bins - 1
    bounds below it (only the window buyers are sorted, once, for the bounds). -#}
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

{%- if method == 'rank' %}
-- per snapshot: customers (R population) and customers with a window purchase (F, M)
rfm_population as (

    select
        snapshot_date,
        count(*) as customers,
        sum(has_window_purchase) as buyers
    from rfm_metrics
    group by snapshot_date

),

recency_scores as (

    {{ rfm_value_scores('recency_days', 'desc', 'customers', 'r_score', bins) }}

),

frequency_scores as (

    {{ rfm_value_scores('frequency', 'asc', 'buyers', 'f_score', bins, 'has_window_purchase = 1') }}

),
-- the value at the ceil(j × buyers / bins)-th position, j = 1..bins-1: a customer's
-- rank - 1 (customers with less) reaches that position exactly when their monetary
-- is above it, so m_score = 1 + the number of bounds below their monetary
monetary_positions as (

    select
        snapshot_date,
        monetary,
        row_number() over (partition by snapshot_date order by monetary) as position
    from rfm_metrics
    where has_window_purchase = 1

),

monetary_bounds as (

    select
        monetary_positions.snapshot_date
        {%- for j in range(1, bins) %},
        max(case when monetary_positions.position = cast(floor(
                cast({{ j }} * rfm_population.buyers + {{ bins - 1 }} as double) / {{ bins }}) as bigint)
            then monetary_positions.monetary end) as monetary_bound_{{ j }}
        {%- endfor %}
    from monetary_positions
    inner join rfm_population
        on monetary_positions.snapshot_date = rfm_population.snapshot_date
    group by monetary_positions.snapshot_date

),
{%- endif %}

-- R is ranked among all customers. F and M are ranked among the customers with a
-- purchase in the window; the others score 1 (no window frequency or spend). Ranking
-- the many lapsed zero-frequency customers too would push every first-time buyer
-- above F = 1 and leave segments like New and Promising unreachable.
rfm_scored as (

    select
        rfm_metrics.snapshot_date,
        rfm_metrics.customer_key,
        rfm_metrics.first_purchase_date,
        rfm_metrics.last_purchase_date,
        rfm_metrics.recency_days,
        rfm_metrics.frequency,
        rfm_metrics.monetary,
        {%- if method == 'rank' %}
        recency_scores.r_score,
        case when rfm_metrics.has_window_purchase = 1
            then frequency_scores.f_score else 1 end as f_score,
        case when rfm_metrics.has_window_purchase = 1
            then 1
            {%- for j in range(1, bins) %}
                + case when rfm_metrics.monetary > monetary_bounds.monetary_bound_{{ j }} then 1 else 0 end
            {%- endfor %}
            else 1 end as m_score
        {%- else %}
        {{ score_bin('rfm_metrics.recency_days desc', 'rfm_metrics.snapshot_date', bins, method, 'rfm_metrics.customer_key') }} as r_score,
        case when rfm_metrics.has_window_purchase = 1
            then {{ score_bin('rfm_metrics.frequency', 'rfm_metrics.snapshot_date, rfm_metrics.has_window_purchase', bins, method, 'rfm_metrics.customer_key') }}
            else 1 end as f_score,
        case when rfm_metrics.has_window_purchase = 1
            then {{ score_bin('rfm_metrics.monetary', 'rfm_metrics.snapshot_date, rfm_metrics.has_window_purchase', bins, method, 'rfm_metrics.customer_key') }}
            else 1 end as m_score
        {%- endif %}
    from rfm_metrics
    {%- if method == 'rank' %}
    inner join recency_scores
        on rfm_metrics.snapshot_date = recency_scores.snapshot_date
        and rfm_metrics.recency_days = recency_scores.recency_days
    left join frequency_scores
        on rfm_metrics.snapshot_date = frequency_scores.snapshot_date
        and rfm_metrics.frequency = frequency_scores.frequency
        and rfm_metrics.has_window_purchase = 1
    left join monetary_bounds
        on rfm_metrics.snapshot_date = monetary_bounds.snapshot_date
    {%- endif %}

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

{#- The RFM part of customer_order_metrics_ctes(orders, snapshots, 'rfm') for many
    month-end snapshots at once (the history backfill), without joining every order to
    every later month-end. Same CTE name and columns, same values.

    Month-ends are numbered by month (month_index). An order on day d is in the
    trailing rfm_window_days window [s - W + 1, s] of month-end s when d <= s < d + W:
    from the month-end of its own month (entry) up to, but not including, the month of
    d + W (exit; d + W - 1 is the last day in the window). Its frequency and monetary
    are added at entry and subtracted at exit; running sums per customer over the
    months where something changes give the window sums, and each such row holds until
    the customer's next change. Only those change rows (at most two per customer and
    month) are sorted, not customers × month-ends.
      orders    relation with customer_key, business_date, is_purchase, net_amount
      snapshots relation with one column snapshot_date (month-ends) -#}
{% macro customer_order_metrics_by_month_end_ctes(orders, snapshots) -%}
{%- set window_days = var('rfm_window_days') | int -%}
{%- set epoch = "cast('2000-01-31' as date)" -%}
metric_snapshots as (

    select
        snapshot_date,
        {{ dbt.datediff(epoch, 'snapshot_date', 'month') }} as month_index
    from {{ snapshots }}

),

order_windows as (

    select
        customer_key,
        business_date,
        case when is_purchase then 1 else 0 end as purchases,
        net_amount,
        {{ dbt.datediff(epoch, 'business_date', 'month') }} as entry_index,
        {{ dbt.datediff(epoch, dbt.dateadd('day', window_days, 'business_date'), 'month') }} as exit_index
    from {{ orders }}
    where customer_key is not null

),

metric_changes as (

    select
        customer_key,
        month_index,
        sum(frequency_change) as frequency_change,
        sum(monetary_change) as monetary_change,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date
    from (
        select
            customer_key,
            entry_index as month_index,
            purchases as frequency_change,
            net_amount as monetary_change,
            case when purchases = 1 then business_date end as purchase_date
        from order_windows
        union all
        select
            customer_key,
            exit_index as month_index,
            -purchases as frequency_change,
            -net_amount as monetary_change,
            cast(null as date) as purchase_date
        from order_windows
        where exit_index <= (select max(month_index) from metric_snapshots)
    ) as changes
    group by customer_key, month_index

),

metric_runs as (

    select
        customer_key,
        month_index,
        lead(month_index) over (partition by customer_key order by month_index) as next_month_index,
        -- constant per customer: only rows after the first purchase are kept
        min(first_purchase_date) over (partition by customer_key) as first_purchase_date,
        max(last_purchase_date) over (
            partition by customer_key order by month_index
            rows between unbounded preceding and current row
        ) as last_purchase_date,
        sum(frequency_change) over (
            partition by customer_key order by month_index
            rows between unbounded preceding and current row
        ) as rfm_frequency,
        sum(monetary_change) over (
            partition by customer_key order by month_index
            rows between unbounded preceding and current row
        ) as rfm_monetary
    from metric_changes

),

-- the month-ends from each month a run can start in (an equality join, so the
-- expansion below is a hash join the planner sizes right)
run_snapshots as (

    select
        starts.month_index as run_month_index,
        metric_snapshots.month_index,
        metric_snapshots.snapshot_date
    from (select distinct month_index from metric_changes) as starts
    inner join metric_snapshots
        on metric_snapshots.month_index >= starts.month_index

),

customer_order_metrics as (

    select
        run_snapshots.snapshot_date,
        metric_runs.customer_key,
        metric_runs.first_purchase_date,
        metric_runs.last_purchase_date,
        metric_runs.rfm_frequency,
        cast(metric_runs.rfm_monetary as decimal(18, 4)) as rfm_monetary
    from metric_runs
    inner join run_snapshots
        on metric_runs.month_index = run_snapshots.run_month_index
    where metric_runs.last_purchase_date is not null
      and (metric_runs.next_month_index is null
           or run_snapshots.month_index < metric_runs.next_month_index)

)
{%- endmacro %}


{#- Score per snapshot and value of a metric with few distinct values (rank tie method):
    score = floor(customers_before × bins / population) + 1, where customers_before counts
    the customers with a worse value (`order`: the direction from worst to best) and
    population is the rfm_population column (customers or buyers). -#}
{% macro rfm_value_scores(value, order, population, score, bins, where=none) -%}
    select
        positions.snapshot_date,
        positions.{{ value }},
        cast(floor(cast(positions.customers_before as double) * {{ bins }}
            / rfm_population.{{ population }}) as integer) + 1 as {{ score }}
    from (
        select
            snapshot_date,
            {{ value }},
            sum(count(*)) over (
                partition by snapshot_date order by {{ value }} {{ order }}
                rows between unbounded preceding and current row
            ) - count(*) as customers_before
        from rfm_metrics
        {%- if where is not none %}
        where {{ where }}
        {%- endif %}
        group by snapshot_date, {{ value }}
    ) as positions
    inner join rfm_population
        on positions.snapshot_date = rfm_population.snapshot_date
{%- endmacro %}
