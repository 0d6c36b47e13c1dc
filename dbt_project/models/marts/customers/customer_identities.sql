-- Every source customer record → its customer_key and the rule that linked it.
-- Identifier statuses only: no e-mail, phone or name appears here.
with

resolved as (

    select * from {{ source('identity', 'resolved_records') }}

)

select
    source_system,
    source_customer_id,
    record_origin,
    customer_key,
    link_rule,
    matched_on,
    customer_records,
    email_status,
    phone_status,
    loyalty_status,
    first_as_of,
    changed_as_of,
    {{ as_of_date() }} as as_of
from resolved
