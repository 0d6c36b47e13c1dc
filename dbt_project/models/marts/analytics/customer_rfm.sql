-- RFM as of var('as_of'): one row per customer with a purchase order on or before as_of.
-- recency from the last purchase ever; frequency and monetary over the trailing
-- rfm_window_days; scores 1..rfm_bins (see macros/analytics/scoring.sql for ties).
with

orders as (

    select * from {{ ref('fct_orders') }}

),

as_of_snapshot as (

    select {{ as_of_date() }} as snapshot_date

),

rfm_cells as (

    select * from {{ ref('int_rfm_cells_segmented') }}

),

{{ rfm_ctes('orders', 'as_of_snapshot', 'rfm_cells') }}

select
    customer_key,
    snapshot_date as as_of,
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
