-- One row per customer. Personal data appears only masked (names) or salted-hashed
-- (email, phone). Purchase figures are relative to as_of.
with

keys as (

    select * from {{ ref('int_customers_keyed') }}

),

customers as (

    select * from {{ ref('stg_landing__customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}
    where customer_key is not null

),

order_stats as (

    select
        customer_key,
        min(case when is_purchase then business_date end) as first_purchase_date,
        max(case when is_purchase then business_date end) as last_purchase_date,
        sum(case when is_purchase then 1 else 0 end) as orders,
        sum(net_amount) as net_revenue,
        sum(margin) as margin
    from orders
    group by customer_key

),

joined as (

    select
        keys.customer_key,
        keys.source_system,
        keys.source_customer_id,
        keys.record_origin,
        customers.first_name,
        customers.last_name,
        lower(trim(customers.email)) as email_normalised,
        customers.phone,
        customers.birth_date,
        floor({{ dbt.datediff('customers.birth_date', as_of_date(), 'day') }} / 365.25) as age_years,
        customers.gender,
        customers.city,
        customers.district,
        customers.region,
        customers.country,
        customers.signup_at,
        customers.consent_email,
        customers.consent_sms,
        customers.consent_phone,
        customers.consent_mail
    from keys
    left join customers
        on keys.source_system = customers.source_system
        and keys.source_customer_id = customers.source_customer_id

)

select
    joined.customer_key,
    joined.source_system,
    joined.source_customer_id,
    joined.record_origin,
    {{ mask_name('joined.first_name') }} as first_name_masked,
    {{ mask_name('joined.last_name') }} as last_name_masked,
    {{ hash_pii('joined.email_normalised') }} as email_hash,
    {{ hash_pii('joined.phone') }} as phone_hash,
    joined.gender,
    case
        when joined.age_years is null then 'unknown'
        when joined.age_years < 20 then 'under 20'
        when joined.age_years < 30 then '20-29'
        when joined.age_years < 40 then '30-39'
        when joined.age_years < 50 then '40-49'
        when joined.age_years < 60 then '50-59'
        else '60+'
    end as age_band,
    joined.region,
    joined.city,
    joined.district,
    joined.country,
    joined.signup_at,
    coalesce(joined.consent_email, false) as consent_email,
    coalesce(joined.consent_sms, false) as consent_sms,
    coalesce(joined.consent_phone, false) as consent_phone,
    coalesce(joined.consent_mail, false) as consent_mail,
    order_stats.first_purchase_date,
    order_stats.last_purchase_date,
    coalesce(order_stats.orders, 0) as orders,
    coalesce(order_stats.net_revenue, 0) as net_revenue,
    order_stats.margin,
    {{ dbt.date_trunc('month', 'order_stats.first_purchase_date') }} as acquisition_cohort_month
from joined
left join order_stats
    on joined.customer_key = order_stats.customer_key
