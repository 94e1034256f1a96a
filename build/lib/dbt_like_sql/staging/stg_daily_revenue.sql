-- Invoiced shipments with ISO week, month and the revenue in KRW at the shipping day's rate.
-- config: materialized=view, partitioned_by=week
with

revenue as (
    select * from {{ source('erp', 'daily_revenue') }}
),

rates as (
    select * from {{ source('external', 'exchange_rate') }}
),

converted as (
    select
        revenue.invoice_id,
        revenue.revenue_date,
        cast(date_trunc('week', revenue.revenue_date) as date) as week_start,
        cast(date_trunc('month', revenue.revenue_date) as date) as month_start,
        revenue.customer_id,
        revenue.product_id,
        revenue.shipped_qty,
        revenue.revenue_amount,
        revenue.currency,
        revenue.revenue_amount
            * case when revenue.currency = 'KRW' then 1.0 else rates.krw_per_unit end as revenue_krw
    from revenue
    left join rates
        on rates.rate_date = revenue.revenue_date
        and rates.currency = revenue.currency
)

select * from converted
