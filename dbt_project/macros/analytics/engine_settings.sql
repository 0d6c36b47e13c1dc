{#- Planner settings for one model, set in its pre_hook and reset in its post_hook.

    DuckDB sizes a join's sides from estimates; through the CTEs of the RFM history
    (customers × month-ends) it underestimates the big side and builds its hash tables
    on it instead of on the small per-snapshot lookups (several times slower and
    memory-bound). Keeping the sides as written (the lookups on the right) avoids that.
    Other engines: nothing to do. -#}
{% macro keep_written_join_sides() -%}
    {{ return(adapter.dispatch('keep_written_join_sides', 'crm_warehouse')()) }}
{%- endmacro %}

{% macro default__keep_written_join_sides() -%}
    select 1
{%- endmacro %}

{% macro duckdb__keep_written_join_sides() -%}
    set disabled_optimizers = 'build_side_probe_side'
{%- endmacro %}

{% macro reset_join_sides() -%}
    {{ return(adapter.dispatch('reset_join_sides', 'crm_warehouse')()) }}
{%- endmacro %}

{% macro default__reset_join_sides() -%}
    select 1
{%- endmacro %}

{% macro duckdb__reset_join_sides() -%}
    reset disabled_optimizers
{%- endmacro %}
