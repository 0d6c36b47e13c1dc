-- The next best category is one the customer has never bought (purchase lines up to as_of).
select nbc.customer_key, nbc.next_best_category
from {{ ref('customer_next_best_category') }} as nbc
inner join {{ ref('fct_transactions') }} as t
    on t.customer_key = nbc.customer_key
    and t.category = nbc.next_best_category
    and not t.is_return
