{#- How many of `n_expr` ranked customers make up the top `share` (a fraction from
    vars, e.g. 0.05): ceil(share × n), computed in decimal so that 0.07 × 100 is 7,
    not 8. At least one customer when n > 0. -#}
{% macro top_count(share, n_expr) -%}
    cast(ceil(cast({{ share }} as decimal(9, 6)) * {{ n_expr }}) as bigint)
{%- endmacro %}

{#- Columns tier_bound_<i>: the last rank in each tier of var value_tiers (ordered list
    of {tier, max_customer_share}) among `n_expr` ranked customers. Select them once
    (one row) and compare ranks with value_tier(). -#}
{% macro value_tier_bounds(n_expr) -%}
    {%- for t in var('value_tiers') %}
    {{ top_count(t['max_customer_share'], n_expr) }} as tier_bound_{{ loop.index }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The value tier of a rank, given the columns of value_tier_bounds() in `bounds`. -#}
{% macro value_tier(rank_expr, bounds) -%}
    case
        when {{ rank_expr }} is null then '{{ var("value_tier_unranked") }}'
        {%- for t in var('value_tiers') %}
        when {{ rank_expr }} <= {{ bounds }}.tier_bound_{{ loop.index }} then '{{ t["tier"] }}'
        {%- endfor %}
    end
{%- endmacro %}
