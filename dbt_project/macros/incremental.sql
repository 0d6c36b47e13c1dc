{#- Incremental facts: the source customer records whose current customer_key (from
    `keys`, an int_customers_keyed CTE) differs from the key their rows carry in {{ this }}
    (a merge, a split, or a customer record that arrived after its rows). Records with no
    rows in {{ this }} come out too; they select nothing. -#}
{% macro rekeyed_source_records(keys='keys') -%}
    select {{ keys }}.source_system, {{ keys }}.source_customer_id
    from {{ keys }}
    where not exists (
        select 1
        from (
            select distinct source_system, source_customer_id, customer_key
            from {{ this }}
            where source_customer_id is not null
        ) as stored
        where stored.source_system = {{ keys }}.source_system
            and stored.source_customer_id = {{ keys }}.source_customer_id
            and (
                stored.customer_key = {{ keys }}.customer_key
                or (stored.customer_key is null and {{ keys }}.customer_key is null)
            )
    )
{%- endmacro %}
