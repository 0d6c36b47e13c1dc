{#- As-of helpers: every mart is computed relative to var('as_of'). -#}

{% macro as_of_date() -%}
    cast('{{ var("as_of") }}' as date)
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
