-- Orders, shipments and production per product and ISO week: quantities and KRW amounts.
-- config: materialized=table, partitioned_by=week, partition_column=week_start
-- Doubles are summed as decimal(38, 10): exact, so every run gives the same bits (a parallel double sum's
-- last bit follows how DuckDB's threads split the rows); a value or total of ~1e28 or more fails the model.
with

orders as (
    select * from {{ ref('stg_daily_order') }}
    where order_date >= {{ partition_start }} and order_date < {{ partition_end }}
),

revenue as (
    select * from {{ ref('stg_daily_revenue') }}
    where revenue_date >= {{ partition_start }} and revenue_date < {{ partition_end }}
),

production as (
    select * from {{ ref('stg_daily_production') }}
    where production_date >= {{ partition_start }} and production_date < {{ partition_end }}
),

order_totals as (
    select
        week_start,
        product_id,
        cast(sum(cast(order_qty as decimal(38, 10))) as double) as order_qty,
        cast(sum(cast(order_amount_krw as decimal(38, 10))) as double) as order_amount_krw,
        count(*) as order_lines,
        count(distinct customer_id) as ordering_customers
    from orders
    group by week_start, product_id
),

revenue_totals as (
    select
        week_start,
        product_id,
        cast(sum(cast(shipped_qty as decimal(38, 10))) as double) as shipped_qty,
        cast(sum(cast(revenue_krw as decimal(38, 10))) as double) as revenue_krw
    from revenue
    group by week_start, product_id
),

production_totals as (
    select
        week_start,
        product_id,
        cast(sum(cast(produced_qty as decimal(38, 10))) as double) as produced_qty,
        cast(sum(cast(produced_cost as decimal(38, 10))) as double) as produced_cost
    from production
    group by week_start, product_id
),

product_weeks as (
    select week_start, product_id from order_totals
    union
    select week_start, product_id from revenue_totals
    union
    select week_start, product_id from production_totals
),

final as (
    select
        product_weeks.week_start,
        cast(extract(isoyear from product_weeks.week_start) as integer) as iso_year,
        cast(extract(week from product_weeks.week_start) as integer) as iso_week,
        product_weeks.product_id,
        coalesce(order_totals.order_qty, 0) as order_qty,
        coalesce(order_totals.order_amount_krw, 0) as order_amount_krw,
        coalesce(order_totals.order_lines, 0) as order_lines,
        coalesce(order_totals.ordering_customers, 0) as ordering_customers,
        coalesce(revenue_totals.shipped_qty, 0) as shipped_qty,
        coalesce(revenue_totals.revenue_krw, 0) as revenue_krw,
        coalesce(production_totals.produced_qty, 0) as produced_qty,
        coalesce(production_totals.produced_cost, 0) as produced_cost
    from product_weeks
    left join order_totals
        on order_totals.week_start = product_weeks.week_start
        and order_totals.product_id = product_weeks.product_id
    left join revenue_totals
        on revenue_totals.week_start = product_weeks.week_start
        and revenue_totals.product_id = product_weeks.product_id
    left join production_totals
        on production_totals.week_start = product_weeks.week_start
        and production_totals.product_id = product_weeks.product_id
)

select * from final
