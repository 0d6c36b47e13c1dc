-- Category-level association rules A -> B from purchase baskets in the trailing window.
-- support = P(A and B), confidence = P(B | A), lift = confidence / P(B).
-- Basket grain (order or customer), window and thresholds are dbt vars (dbt_project.yml).
{%- set basket = var('targeting_affinity_basket', 'order') %}
{%- if basket not in ['order', 'customer'] %}
    {{ exceptions.raise_compiler_error("targeting_affinity_basket must be 'order' or 'customer', got " ~ basket) }}
{%- endif %}
with

lines as (

    select * from {{ ref('fct_transactions') }}
    where not is_return
        and category is not null
        and category <> 'unknown'
        and business_date > {{ dbt.dateadd('day', -1 * var('targeting_affinity_window_days', 365), as_of_date()) }}
        {%- if basket == 'customer' %}
        and customer_key is not null
        {%- endif %}

),

baskets as (

    select distinct
        {% if basket == 'customer' -%}
        {{ dbt.safe_cast('customer_key', api.Column.translate_type('string')) }}
        {%- else -%}
        order_id
        {%- endif %} as basket_id,
        category
    from lines

),

totals as (

    select count(distinct basket_id) as total_baskets from baskets

),

category_baskets as (

    select category, count(*) as baskets
    from baskets
    group by category

),

pairs as (

    select
        a.category as antecedent_category,
        b.category as consequent_category,
        count(*) as pair_baskets
    from baskets as a
    inner join baskets as b
        on a.basket_id = b.basket_id
        and a.category <> b.category
    group by a.category, b.category

)

select
    {{ as_of_date() }} as as_of,
    '{{ basket }}' as basket_grain,
    pairs.antecedent_category,
    pairs.consequent_category,
    pairs.pair_baskets,
    ante.baskets as antecedent_baskets,
    cons.baskets as consequent_baskets,
    totals.total_baskets,
    1.0 * pairs.pair_baskets / totals.total_baskets as support,
    1.0 * ante.baskets / totals.total_baskets as antecedent_support,
    1.0 * cons.baskets / totals.total_baskets as consequent_support,
    1.0 * pairs.pair_baskets / ante.baskets as confidence,
    (1.0 * pairs.pair_baskets / ante.baskets) / (1.0 * cons.baskets / totals.total_baskets) as lift
from pairs
inner join category_baskets as ante on ante.category = pairs.antecedent_category
inner join category_baskets as cons on cons.category = pairs.consequent_category
cross join totals
where 1.0 * pairs.pair_baskets / totals.total_baskets >= {{ var('targeting_affinity_min_support', 0.001) }}
    and pairs.pair_baskets >= {{ var('targeting_affinity_min_baskets', 5) }}
