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
{%- set has_name = 'first_name is not null or last_name is not null' %}
{%- set has_address = 'postal_code is not null or city is not null or district is not null or region is not null' %}
with

records as (

    select * from {{ ref('int_customers_source_records') }}

),

ordered as (

    select *, {{ survivorship_order() }} as record_rank
    from records

)

select
    customer_key,
    count(*) as linked_records,
    {{ survivorship_value(has_name, 'first_name') }} as first_name,
    {{ survivorship_value(has_name, 'last_name') }} as last_name,
    {{ survivorship_value('birth_date is not null', 'birth_date') }} as birth_date,
    {{ survivorship_value('gender is not null', 'gender') }} as gender,
    {{ survivorship_value(has_address, 'postal_code') }} as postal_code,
    {{ survivorship_value(has_address, 'city') }} as city,
    {{ survivorship_value(has_address, 'district') }} as district,
    {{ survivorship_value(has_address, 'region') }} as region,
    {{ survivorship_value(has_address, 'country') }} as country,
    {{ survivorship_value('email_address is not null', 'email_address') }} as email_address,
    {{ survivorship_value('email_address is not null', 'email_key') }} as email_key,
    {{ survivorship_value('phone_e164 is not null', 'phone_e164') }} as phone_e164,
    {{ survivorship_value('phone_e164 is not null', 'phone_is_mobile') }} as phone_is_mobile,
    {{ survivorship_value('referred_by_customer_key is not null', 'referred_by_customer_key') }}
        as referred_by_customer_key,
    min(signup_at) as signup_at,
    {{ most_restrictive_consent('consent_email') }} as consent_email,
    {{ most_restrictive_consent('consent_sms') }} as consent_sms,
    {{ most_restrictive_consent('consent_phone') }} as consent_phone,
    {{ most_restrictive_consent('consent_mail') }} as consent_mail
from ordered
group by customer_key
