-- Production per item and day with ISO week and month, valued at standard cost in the item's currency
-- and in KRW at the production day's exchange rate (as the order and revenue views convert theirs).
-- config: materialized=view, partitioned_by=week
with

production as (
    select * from {{ source('erp', 'daily_production') }}
),

products as (
    select * from {{ source('erp', 'product_master') }}
),

rates as (
    select * from {{ source('external', 'exchange_rate') }}
),

enriched as (
    select
        production.production_date,
        cast(date_trunc('week', production.production_date) as date) as week_start,
        cast(date_trunc('month', production.production_date) as date) as month_start,
        production.product_id,
        production.produced_qty,
        products.currency,
        production.produced_qty * products.unit_cost as produced_cost,
        production.produced_qty * products.unit_cost
            * case when products.currency = 'KRW' then 1.0 else rates.krw_per_unit end as produced_cost_krw
    from production
    left join products
        on products.product_id = production.product_id
    left join rates
        on rates.rate_date = production.production_date
        and rates.currency = products.currency
)

select * from enriched
