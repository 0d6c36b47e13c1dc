-- The unified customer view: one row per person (customer_key), however many source
-- systems know them. Personal data appears only masked (names) or salted-hashed (the
-- normalised e-mail and the E.164 phone). Purchase figures are relative to as_of.
with

golden as (

    select * from {{ ref('int_customers_golden') }}

),

contact_points as (

    select * from {{ ref('int_customer_contact_points') }}

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

channels as (

    select distinct customer_key, channel
    from orders
    where is_purchase

),

channels_used as (

    select
        customer_key,
        {{ dbt.listagg('channel', "','", 'order by channel') }} as channels_used
    from channels
    group by customer_key

),

referrals as (

    select referred_by_customer_key as customer_key, count(*) as referrals_made
    from golden
    where referred_by_customer_key is not null
    group by referred_by_customer_key

),

aged as (

    select
        *,
        floor({{ dbt.datediff('birth_date', as_of_date(), 'day') }} / 365.25) as age_years
    from golden

)

select
    aged.customer_key,
    {{ mask_name('aged.first_name') }} as first_name_masked,
    {{ mask_name('aged.last_name') }} as last_name_masked,
    {{ hash_pii('aged.email_key') }} as email_hash,
    {{ hash_pii('aged.phone_e164') }} as phone_hash,
    aged.gender,
    case
        when aged.age_years is null then 'unknown'
        when aged.age_years < 20 then 'under 20'
        when aged.age_years < 30 then '20-29'
        when aged.age_years < 40 then '30-39'
        when aged.age_years < 50 then '40-49'
        when aged.age_years < 60 then '50-59'
        else '60+'
    end as age_band,
    aged.region,
    aged.city,
    aged.district,
    coalesce(aged.consent_email, false) as consent_email,
    coalesce(aged.consent_sms, false) as consent_sms,
    coalesce(aged.consent_phone, false) as consent_phone,
    coalesce(aged.consent_mail, false) as consent_mail,
    contact_points.contactable_email,
    contact_points.contactable_sms,
    contact_points.contactable_phone,
    contact_points.contactable_mail,
    order_stats.first_purchase_date,
    order_stats.last_purchase_date,
    coalesce(order_stats.orders, 0) as orders,
    coalesce(order_stats.net_revenue, 0) as net_revenue,
    order_stats.margin,
    channels_used.channels_used,
    aged.linked_records,
    aged.referred_by_customer_key,
    coalesce(referrals.referrals_made, 0) as referrals_made,
    {{ dbt.date_trunc('month', 'order_stats.first_purchase_date') }} as acquisition_cohort_month
from aged
left join contact_points
    on aged.customer_key = contact_points.customer_key
left join order_stats
    on aged.customer_key = order_stats.customer_key
left join channels_used
    on aged.customer_key = channels_used.customer_key
left join referrals
    on aged.customer_key = referrals.customer_key
