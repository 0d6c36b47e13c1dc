-- For each customer: the top category they have not bought yet, scored by
-- sum over the categories A they buy of lift(A -> B) x their affinity to A,
-- where affinity = share of the customer's purchase orders that contain A.
-- Only rules of marts.product_affinity with lift above targeting_next_best_min_lift count.
-- Customers with no qualifying rule get no row.
with

rules as (

    select * from {{ ref('product_affinity') }}
    where lift > {{ var('targeting_next_best_min_lift', 1.0) }}

),

-- one row per customer and category bought, with the customer's purchase orders:
-- kept incrementally from the line items (int_customer_categories_summarised)
customer_categories as (

    select * from {{ ref('int_customer_categories_summarised') }}

),

customer_orders as (

    select distinct customer_key, purchase_orders, categories_bought
    from customer_categories

),

affinity as (

    select
        customer_key,
        category,
        1.0 * category_orders / purchase_orders as affinity
    from customer_categories

),

contributions as (

    select
        affinity.customer_key,
        rules.consequent_category as category,
        rules.antecedent_category,
        rules.lift,
        rules.lift * affinity.affinity as contribution
    from affinity
    inner join rules on rules.antecedent_category = affinity.category
    left join customer_categories as bought
        on bought.customer_key = affinity.customer_key
        and bought.category = rules.consequent_category
    where bought.customer_key is null

),

scored as (

    select
        customer_key,
        category,
        -- rounded: a float sum's last bits depend on the summation order (threads)
        round(sum(contribution), 9) as score,
        count(*) as supporting_rules
    from contributions
    group by customer_key, category

),

ranked as (

    select
        scored.*,
        row_number() over (
            partition by scored.customer_key
            order by scored.score desc, scored.category
        ) as category_rank
    from scored

),

top_category as (

    select * from ranked where category_rank = 1

),

strongest as (

    -- the supporting rule, looked up only for each customer's top category
    select
        contributions.customer_key,
        contributions.antecedent_category,
        contributions.lift,
        row_number() over (
            partition by contributions.customer_key
            order by contributions.contribution desc, contributions.antecedent_category
        ) as contribution_rank
    from contributions
    inner join top_category
        on top_category.customer_key = contributions.customer_key
        and top_category.category = contributions.category

)

select
    ranked.customer_key,
    {{ as_of_date() }} as as_of,
    ranked.category as next_best_category,
    ranked.score,
    ranked.supporting_rules,
    strongest.antecedent_category as supporting_category,
    strongest.lift as supporting_lift,
    co.purchase_orders,
    co.categories_bought
from top_category as ranked
inner join strongest
    on strongest.customer_key = ranked.customer_key
    and strongest.contribution_rank = 1
inner join customer_orders as co on co.customer_key = ranked.customer_key
