-- Production per item and day with ISO week and month, valued at standard cost.
-- config: materialized=view, partitioned_by=week
with

production as (
    select * from {{ source('erp', 'daily_production') }}
),

products as (
    select * from {{ source('erp', 'product_master') }}
),

enriched as (
    select
        production.production_date,
        cast(date_trunc('week', production.production_date) as date) as week_start,
        cast(date_trunc('month', production.production_date) as date) as month_start,
        production.product_id,
        production.produced_qty,
        production.produced_qty * products.unit_cost as produced_cost
    from production
    left join products
        on products.product_id = production.product_id
)

select * from enriched
