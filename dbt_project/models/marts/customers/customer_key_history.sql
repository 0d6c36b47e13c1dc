-- Key changes across nights: when two customers merge the older key survives and the
-- younger one is recorded here; when a customer splits, the records that left get a new
-- key, recorded too. current_customer_key follows later merges, so anything stored under
-- an old key (target lists, campaign history) can be re-joined to today's customer.
with

history as (

    select * from {{ source('identity', 'key_history') }}

)

select
    old_customer_key,
    new_customer_key,
    current_customer_key,
    change_type,
    as_of,
    records_moved,
    run_id,
    recorded_at
from history
