-- The golden record: one row per customer_key, each attribute surviving from the
-- customer's source records by rule.
-- * name, birth date, gender, address, e-mail, phone, referrer: the most trusted source
--   (var customer_source_priority) holding a value, then the most recent updated_at.
--   Name (first + last) and address (postal code, city, district, region, country) are
--   taken as a whole from one record, so the parts always belong together.
-- * e-mail and phone: only usable values (valid, not a blocked placeholder).
-- * signup_at: the earliest signup in any system.
-- * consent per channel: an opt-out in any system wins; else an opt-in; else unknown.
-- This model holds personal data; it lives in the unpublished intermediate schema.
with

records as (

    select * from {{ ref('int_customers_source_records') }}

),

ordered as (

    select *, {{ survivorship_order() }} as record_rank
    from records

),

ranked as (

    select
        *,
        {{ survivorship_pick('first_name is not null or last_name is not null') }} as name_pick,
        {{ survivorship_pick('birth_date is not null') }} as birth_pick,
        {{ survivorship_pick('gender is not null') }} as gender_pick,
        {{ survivorship_pick('postal_code is not null or city is not null or district is not null or region is not null') }} as address_pick,
        {{ survivorship_pick('email_address is not null') }} as email_pick,
        {{ survivorship_pick('phone_e164 is not null') }} as phone_pick,
        {{ survivorship_pick('referred_by_customer_key is not null') }} as referrer_pick
    from ordered

)

select
    customer_key,
    count(*) as linked_records,
    max(case when record_rank = name_pick then first_name end) as first_name,
    max(case when record_rank = name_pick then last_name end) as last_name,
    max(case when record_rank = birth_pick then birth_date end) as birth_date,
    max(case when record_rank = gender_pick then gender end) as gender,
    max(case when record_rank = address_pick then postal_code end) as postal_code,
    max(case when record_rank = address_pick then city end) as city,
    max(case when record_rank = address_pick then district end) as district,
    max(case when record_rank = address_pick then region end) as region,
    max(case when record_rank = address_pick then country end) as country,
    max(case when record_rank = email_pick then email_address end) as email_address,
    max(case when record_rank = email_pick then email_key end) as email_key,
    max(case when record_rank = phone_pick then phone_e164 end) as phone_e164,
    {{ dbt.bool_or('record_rank = phone_pick and phone_is_mobile') }} as phone_is_mobile,
    max(case when record_rank = referrer_pick then referred_by_customer_key end) as referred_by_customer_key,
    min(signup_at) as signup_at,
    {{ most_restrictive_consent('consent_email') }} as consent_email,
    {{ most_restrictive_consent('consent_sms') }} as consent_sms,
    {{ most_restrictive_consent('consent_phone') }} as consent_phone,
    {{ most_restrictive_consent('consent_mail') }} as consent_mail
from ranked
group by customer_key
