{#- As-of helpers: every mart is computed relative to var('as_of'). -#}

{% macro as_of_date() -%}
    cast('{{ var("as_of") }}' as date)
{%- endmacro %}

{#- The business date of a business-local timestamp. -#}
{% macro business_date(ts) -%}
    cast({{ ts }} as date)
{%- endmacro %}
