-- Where each customer can be reached, for the target-list step (issue 6) and the outbox:
-- normalised e-mail, E.164 phone, postal address, name, and the contactable flags.
-- Personal data: stays in the unpublished intermediate schema, never in marts.
with

golden as (

    select * from {{ ref('int_customers_golden') }}

)

select
    customer_key,
    first_name,
    last_name,
    email_address as email,
    phone_e164 as phone,
    coalesce(phone_is_mobile, false) as phone_is_mobile,
    postal_code,
    region,
    city,
    district,
    country,
    coalesce(consent_email, false) and email_address is not null as contactable_email,
    coalesce(consent_sms, false) and phone_e164 is not null
        and coalesce(phone_is_mobile, false) as contactable_sms,
    coalesce(consent_phone, false) and phone_e164 is not null as contactable_phone,
    coalesce(consent_mail, false) and postal_code is not null
        and (city is not null or region is not null) as contactable_mail
from golden
