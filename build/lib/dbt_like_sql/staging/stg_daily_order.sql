-- Order lines with ISO week, month and the amount in KRW at the order day's exchange rate.
-- config: materialized=view, partitioned_by=week
with

orders as (
    select * from {{ source('erp', 'daily_order') }}
),

rates as (
    select * from {{ source('external', 'exchange_rate') }}
),

converted as (
    select
        orders.order_id,
        orders.order_date,
        cast(date_trunc('week', orders.order_date) as date) as week_start,
        cast(date_trunc('month', orders.order_date) as date) as month_start,
        orders.customer_id,
        orders.product_id,
        orders.order_qty,
        orders.unit_price,
        orders.currency,
        orders.requested_delivery_date,
        orders.order_qty * orders.unit_price
            * case when orders.currency = 'KRW' then 1.0 else rates.krw_per_unit end as order_amount_krw
    from orders
    left join rates
        on rates.rate_date = orders.order_date
        and rates.currency = orders.currency
)

select * from converted
