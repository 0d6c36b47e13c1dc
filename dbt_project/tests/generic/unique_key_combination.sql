{#- Composite-key uniqueness without the dbt_utils package (no downloads at run time).
    recent_column/recent_days: only rows with recent_column within recent_days before as_of
    (a history table whose older rows a night does not write). -#}
{% test unique_key_combination(model, columns, recent_column=none, recent_days=none) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
{%- if recent_column is not none %}
where {{ recent_column }} > {{ as_of_date() }} - {{ recent_days }}
{%- endif %}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
