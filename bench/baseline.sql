-- Plain-SQL baseline for the pipeline benchmark (bench/bench_pipeline.py).
--
-- One hand-written DuckDB script that computes the same core marts as the product from the
-- same landing files: typed + validated transactions (dedup, latest file wins), orders,
-- customers, RFM scores, Pareto summary and monthly cohort retention. It skips what only
-- the product does (quarantine with reasons, identity resolution, history, tests, scoring,
-- targeting, publishing), so it is a lower bound for the same core work.
--
-- The benchmark fills in two placeholders: landing_tx (a `create table landing_tx` over the
-- transaction files of every format present, all columns as text) and as_of.

set preserve_insertion_order = false;

{landing_tx}

create or replace table tx as
with typed as (
    select
        filename,
        lower(trim(source_system)) as source_system,
        trim(transaction_id) as transaction_id,
        coalesce(try_cast(line_number as integer), 1) as line_number,
        nullif(trim(source_customer_id), '') as source_customer_id,
        case when regexp_matches(occurred_at, '\d:\d{2}(:\d{2})?\s*(Z|[+-]\d{2}:?\d{2})$')
             then timezone('Asia/Seoul', try_cast(occurred_at as timestamptz))
             else try_cast(occurred_at as timestamp) end as occurred_at,
        lower(trim(channel)) as channel,
        product_id,
        try_cast(quantity as decimal(18, 3)) as quantity,
        try_cast(amount as decimal(18, 4)) as amount,
        upper(trim(currency)) as currency
    from landing_tx
),
valid as (
    select * from typed
    where occurred_at is not null and amount is not null and quantity is not null
      and abs(amount) <= 100000000 and sign(quantity) * sign(amount) >= 0
      and coalesce(currency, 'KRW') = 'KRW'
      and channel in ('store', 'web', 'app', 'call_centre', 'marketplace')
      and cast(occurred_at as date) <= date '{as_of}' + 1
)
select * from valid
qualify row_number() over (
    partition by source_system, transaction_id, line_number order by filename desc
) = 1;

create or replace table orders as
select
    source_system || ':' || transaction_id as order_id,
    any_value(source_system || ':' || source_customer_id) as customer_id,
    min(cast(occurred_at as date)) as business_date,
    sum(amount) as net_amount,
    bool_or(amount >= 0) as is_purchase
from tx
where cast(occurred_at as date) <= date '{as_of}'
group by 1;

create or replace table customers as
select
    customer_id,
    min(business_date) filter (where is_purchase) as first_purchase_date,
    max(business_date) filter (where is_purchase) as last_purchase_date,
    count(*) filter (where is_purchase) as orders,
    sum(net_amount) as net_revenue,
    sum(net_amount) filter (where business_date > date '{as_of}' - 365) as window_revenue,
    count(*) filter (where is_purchase and business_date > date '{as_of}' - 365) as window_orders
from orders
where customer_id is not null
group by 1;

create or replace table rfm as
select
    customer_id,
    date '{as_of}' - last_purchase_date as recency_days,
    window_orders as frequency,
    coalesce(window_revenue, 0) as monetary,
    ntile(5) over (order by date '{as_of}' - last_purchase_date desc, customer_id) as r_score,
    ntile(5) over (order by window_orders, customer_id) as f_score,
    ntile(5) over (order by coalesce(window_revenue, 0), customer_id) as m_score
from customers
where last_purchase_date is not null;

create or replace table pareto as
with ranked as (
    select
        customer_id,
        window_revenue,
        row_number() over (order by window_revenue desc, customer_id) as rank,
        count(*) over () as n,
        sum(window_revenue) over () as total,
        sum(window_revenue) over (order by window_revenue desc, customer_id
                                  rows between unbounded preceding and current row) as cum
    from customers
    where window_revenue > 0
)
select
    any_value(n) as customers,
    any_value(total) as revenue,
    sum(window_revenue) filter (where rank <= n * 0.01) / any_value(total) as top_1_share,
    sum(window_revenue) filter (where rank <= n * 0.20) / any_value(total) as top_20_share,
    min(rank) filter (where cum >= 0.8 * total) as customers_for_80pct,
    2 * sum((n - rank + 1) * window_revenue) / (any_value(n) * any_value(total))
        - (any_value(n) + 1) / any_value(n) as gini
from ranked;

create or replace table cohorts as
with firsts as (
    select customer_id, date_trunc('month', first_purchase_date) as cohort_month
    from customers where first_purchase_date is not null
),
activity as (
    select distinct o.customer_id, date_trunc('month', o.business_date) as activity_month
    from orders o where o.is_purchase and o.customer_id is not null
)
select
    f.cohort_month,
    datediff('month', f.cohort_month, a.activity_month) as period_number,
    count(distinct a.customer_id) as active_customers,
    any_value(s.cohort_size) as cohort_size
from firsts f
join activity a using (customer_id)
join (select cohort_month, count(*) as cohort_size from firsts group by 1) s using (cohort_month)
group by 1, 2;
