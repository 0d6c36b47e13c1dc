{#- Several columns never null, checked in ONE scan of the model (a not_null test per
    column costs a scan and a test node each: a dbt node and a Dagster asset check).
    Returns one row per column that has nulls: column_name, null_rows. `failures`
    counts null cells (the sum of null_rows, like a not_null test per column), so
    warn_if / error_if thresholds keep their meaning; store_failures keeps the rows.
    config `where` filters the model as for the built-in tests (dbt replaces
    {{ model }} with a filtered subquery). Portable SQL: one aggregate select, then a
    union all of one branch per column. -#}
{% test not_null_columns(model, columns) %}
{{ config(fail_calc = "coalesce(sum(null_rows), 0)") }}
{%- if not columns %}
  {{ exceptions.raise_compiler_error("not_null_columns on " ~ model ~ ": empty columns list") }}
{%- endif %}
with null_counts as (
    select
    {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as null_rows_{{ loop.index }}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
    from {{ model }}
)
{%- for column in columns %}
select {{ dbt.string_literal(column) }} as column_name, null_rows_{{ loop.index }} as null_rows
from null_counts
where null_rows_{{ loop.index }} > 0
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% endtest %}
