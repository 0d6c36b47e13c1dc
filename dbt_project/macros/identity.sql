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

{#- The record an attribute survives from: the preferred record (by survivorship_order,
    column record_rank) among those holding the attribute (`has_value`), else the
    preferred record overall. One window over the customer, so every attribute shares
    the one sort of survivorship_order instead of a sort of its own. -#}
{% macro survivorship_pick(has_value) -%}
    coalesce(
        min(case when {{ has_value }} then record_rank end) over (partition by customer_key),
        1
    )
{%- endmacro %}

{#- Consent per channel: any opt-out wins; else any opt-in; else unknown (null). -#}
{% macro most_restrictive_consent(column) -%}
    case
        when sum(case when {{ column }} = false then 1 else 0 end) > 0 then false
        when sum(case when {{ column }} = true then 1 else 0 end) > 0 then true
    end
{%- endmacro %}
