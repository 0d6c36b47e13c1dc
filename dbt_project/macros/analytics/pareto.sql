{#- How many of `n_expr` ranked customers make up the top `share` (a fraction from
    vars, e.g. 0.05): ceil(share × n), computed in decimal so that 0.07 × 100 is 7,
    not 8. At least one customer when n > 0. -#}
{% macro top_count(share, n_expr) -%}
    cast(ceil(cast({{ share }} as decimal(9, 6)) * {{ n_expr }}) as bigint)
{%- endmacro %}

{#- The value tier of a customer from its rank among `n_expr` ranked customers, by the
    var value_tiers (ordered list of {tier, max_customer_share}). -#}
{% macro value_tier(rank_expr, n_expr) -%}
    {%- set tiers = var('value_tiers') -%}
    case
        when {{ rank_expr }} is null then '{{ var("value_tier_unranked") }}'
        {%- for t in tiers %}
        when {{ rank_expr }} <= {{ top_count(t['max_customer_share'], n_expr) }} then '{{ t["tier"] }}'
        {%- endfor %}
    end
{%- endmacro %}
