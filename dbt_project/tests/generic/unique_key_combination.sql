{#- Composite-key uniqueness without the dbt_utils package (no downloads at run time). -#}
{% test unique_key_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
