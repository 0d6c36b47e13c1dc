{#- Date helpers for the analytics marts. Everything is relative to as_of. -#}

{#- The date `days` days before `expr` (a date), as a date on every engine. -#}
{% macro days_before(expr, days) -%}
    cast({{ dbt.dateadd('day', -1 * (days | int), expr) }} as date)
{%- endmacro %}

{#- First day of a trailing window of `days` days that ends on (and includes) `expr`. -#}
{% macro window_start(expr, days) -%}
    {{ days_before(expr, (days | int) - 1) }}
{%- endmacro %}

{#- Last day of the month of a date, as a date. -#}
{% macro month_end(expr) -%}
    cast({{ dbt.last_day(expr, 'month') }} as date)
{%- endmacro %}

{#- Whether the month starting at `expr` has ended on or before as_of. -#}
{% macro month_is_complete(expr) -%}
    {{ month_end(expr) }} <= {{ as_of_date() }}
{%- endmacro %}

{#- The latest month-end on or before as_of. -#}
{% macro last_month_end_on_or_before(expr) -%}
    case when {{ month_end(expr) }} = {{ expr }} then {{ expr }}
         else cast({{ dbt.dateadd('day', -1, dbt.date_trunc('month', expr)) }} as date) end
{%- endmacro %}

{#- Start of the period (month or week, weeks start on Monday) of a date, as a date. -#}
{% macro period_start(grain, expr) -%}
    cast({{ dbt.date_trunc(grain, expr) }} as date)
{%- endmacro %}

{#- Whole periods from `start_expr` to `end_expr` (both period starts). -#}
{% macro periods_between(grain, start_expr, end_expr) -%}
    {%- if grain == 'week' -%}
        cast(floor({{ dbt.datediff(start_expr, end_expr, 'day') }} / 7) as integer)
    {%- else -%}
        cast({{ dbt.datediff(start_expr, end_expr, grain) }} as integer)
    {%- endif -%}
{%- endmacro %}

{#- A select that returns one row per period start (`grain`: month, week or day)
    between two date columns of `from_relation`, as a date column `alias`.
    Series generation differs by engine, so it is dispatched. -#}
{% macro date_series(start_col, end_col, grain, alias, from_relation) -%}
    {{ return(adapter.dispatch('date_series', 'crm_warehouse')(start_col, end_col, grain, alias, from_relation)) }}
{%- endmacro %}

{#- Spark SQL: sequence() over dates, exploded. -#}
{% macro default__date_series(start_col, end_col, grain, alias, from_relation) -%}
    select cast(series_value as date) as {{ alias }}
    from (
        select explode(sequence(cast({{ start_col }} as date), cast({{ end_col }} as date),
                                interval 1 {{ grain }})) as series_value
        from {{ from_relation }}
    ) as series
{%- endmacro %}

{% macro duckdb__date_series(start_col, end_col, grain, alias, from_relation) -%}
    select cast(series_value as date) as {{ alias }}
    from (
        select unnest(generate_series(cast({{ start_col }} as date), cast({{ end_col }} as date),
                                      interval 1 {{ grain }})) as series_value
        from {{ from_relation }}
    ) as series
{%- endmacro %}
