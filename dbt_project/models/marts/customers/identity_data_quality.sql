-- Identity data quality per night: how many customers-file records carry a usable,
-- missing, malformed, blocked, over-shared or ambiguous e-mail / phone / loyalty id, and
-- the resolution figures (records, customers, links, new keys, merges, splits).
with

quality as (

    select * from {{ source('identity', 'quality_log') }}

)

select
    as_of,
    metric_group,
    identifier_type,
    status,
    records,
    share
from quality
