-- RFM as of var('as_of'): one row per customer with a purchase order on or before as_of.
-- recency from the last purchase ever; frequency and monetary over the trailing
-- rfm_window_days; scores 1..rfm_bins (see macros/analytics/scoring.sql for ties).
with

metrics as (

    select
        as_of as snapshot_date,
        customer_key,
        first_purchase_date,
        last_purchase_date,
        rfm_frequency,
        rfm_monetary
    from {{ ref('int_customer_orders_summarised') }}

),

rfm_cells as (

    select * from {{ ref('int_rfm_cells_segmented') }}

),

{{ rfm_scored_ctes('metrics', 'rfm_cells') }}

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
