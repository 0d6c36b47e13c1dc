{#- Golden-record helpers (models/intermediate/int_customers_golden.sql). -#}

{#- Trust rank of a source system from var('customer_source_priority'): 1 = most trusted;
    sources not listed share the rank after the last listed one. -#}
{% macro source_priority_rank(source_system) -%}
    {%- set priority = var('customer_source_priority', []) -%}
    {%- if priority | length == 0 -%}
        1
    {%- else -%}
        case {{ source_system }}
        {%- for system in priority %}
            when '{{ system }}' then {{ loop.index }}
        {%- endfor %}
            else {{ priority | length + 1 }}
        end
    {%- endif -%}
{%- endmacro %}

{#- Survivorship order of a customer's source records: the most trusted source first,
    then the most recent version, then a stable tie-break. 1 = the preferred record. -#}
{% macro survivorship_order() -%}
    row_number() over (
        partition by customer_key
        order by source_rank, updated_at desc, source_system, source_customer_id
    )
{%- endmacro %}

{#- An attribute's surviving value, as an aggregate over the customer's records (column
    record_rank from survivorship_order): its value on the preferred record among those
    holding the attribute (`has_value`), else on the preferred record overall. Several
    columns with the same `has_value` come from the same record (name, address). -#}
{% macro survivorship_value(has_value, value) -%}
    {#- holders first: a customer never has a billion records -#}
    {{ value_at_min(value, "case when " ~ has_value ~ " then 0 else 1000000000 end + record_rank") }}
{%- endmacro %}

{#- The value of `value` on the row with the smallest `order_by` (never null, unique in the
    group), null when that row's value is null. An aggregate, so each attribute costs no
    window of its own; engines name it differently, so it is dispatched. -#}
{% macro value_at_min(value, order_by) -%}
    {{ return(adapter.dispatch('value_at_min', 'crm_warehouse')(value, order_by)) }}
{%- endmacro %}

{% macro default__value_at_min(value, order_by) -%}
    min_by({{ value }}, {{ order_by }})
{%- endmacro %}

{#- DuckDB's arg_min / min_by skip rows whose value is null; arg_min_null does not. -#}
{% macro duckdb__value_at_min(value, order_by) -%}
    arg_min_null({{ value }}, {{ order_by }})
{%- endmacro %}

{#- Consent per channel: any opt-out wins; else any opt-in; else unknown (null). -#}
{% macro most_restrictive_consent(column) -%}
    case
        when sum(case when {{ column }} = false then 1 else 0 end) > 0 then false
        when sum(case when {{ column }} = true then 1 else 0 end) > 0 then true
    end
{%- endmacro %}
