-- Monthly cohort retention: one row per acquisition month × months since (0..N up to
-- the month of as_of). See macros/analytics/cohort.sql for the definitions.
{{ cohort_retention_sql('month', ref('fct_orders'), ref('int_customer_orders_summarised')) }}
