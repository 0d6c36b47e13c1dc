-- Weekly cohort retention (weeks start on Monday): the same as cohort_retention at
-- week grain. Built only when var cohort_retention_weekly_enabled is true.
{{ config(enabled=var('cohort_retention_weekly_enabled')) }}
{{ cohort_retention_sql('week', ref('fct_orders'), ref('int_customer_orders_summarised')) }}
