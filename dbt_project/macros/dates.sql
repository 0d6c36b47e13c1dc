{#- As-of helpers: every mart is computed relative to as_of. -#}

{% macro as_of_date() -%}
    cast('{{ as_of_value() }}' as date)
{%- endmacro %}

{#- as_of as 'YYYY-MM-DD': an explicit `--vars '{as_of: ...}'` (a hand run, a unit test's
    overrides), else the CRM_AS_OF environment variable that `crm run` sets for its dbt step.
    The env var is read only while dbt executes, never while it parses: dbt keys its parse
    cache on --vars, so an as_of var re-parsed the whole project every night (~13 s of CPU on
    the 2-core machine), while the env var leaves the cache valid night after night. -#}
{% macro as_of_value() -%}
    {%- set explicit = var('as_of', none) -%}
    {%- if explicit is not none -%}
        {{ return(explicit | string) }}
    {%- elif not execute -%}
        {{ return('1970-01-01') }}  {#- parsing: the value is never used -#}
    {%- endif -%}
    {%- set from_env = env_var('CRM_AS_OF', '') -%}
    {%- if not from_env -%}
        {{ exceptions.raise_compiler_error(
            "as_of is not set: run `crm run`, or pass --vars '{as_of: YYYY-MM-DD}' "
            ~ "or set CRM_AS_OF to run dbt by hand") }}
    {%- endif -%}
    {{ return(from_env) }}
{%- endmacro %}

{#- The business date of a business-local timestamp. -#}
{% macro business_date(ts) -%}
    cast({{ ts }} as date)
{%- endmacro %}

{#- Pre-hook of the incremental facts: a rerun with an earlier as_of first removes the rows
    dated after it, so the incremental table equals a full rebuild at that as_of. Renders
    nothing on the first build or with --full-refresh (the table is rebuilt anyway). -#}
{% macro delete_after_as_of(date_column='business_date') -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- if existing is not none and not should_full_refresh() -%}
        delete from {{ this }} where {{ date_column }} > {{ as_of_date() }}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of incremental summaries that keep rows from earlier runs: every row gets
    this run's as_of, and its period's completeness as of it. -#}
{% macro refresh_as_of_columns(period_column, complete_column) -%}
    update {{ this }}
    set as_of = {{ as_of_date() }},
        {{ complete_column }} = {{ month_is_complete(period_column) }}
{%- endmacro %}
