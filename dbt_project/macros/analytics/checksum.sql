{#- An order-independent checksum of a group's rows over `columns` (aggregate expression),
    for change detection within one engine: XOR of a 64-bit row hash, so it needs unique
    rows (it is taken over orders, unique by order_id). DuckDB and Spark both have hash()
    and bit_xor(); their values differ, which is fine for comparing a table with itself. -#}
{% macro rows_checksum(columns) -%}
    {{ return(adapter.dispatch('rows_checksum', 'crm_warehouse')(columns)) }}
{%- endmacro %}

{% macro default__rows_checksum(columns) -%}
    bit_xor(hash({{ columns | join(', ') }}))
{%- endmacro %}

{#- DuckDB's hash is unsigned 64-bit: shifted by one bit to fit a signed bigint. -#}
{% macro duckdb__rows_checksum(columns) -%}
    cast(bit_xor(hash({{ columns | join(', ') }})) >> 1 as bigint)
{%- endmacro %}
