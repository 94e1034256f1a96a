-- Orders and shipments per customer and ISO week: quantities, KRW amounts and product breadth.
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

order_totals as (
    select
        week_start,
        customer_id,
        cast(sum(cast(order_qty as decimal(38, 10))) as double) as order_qty,
        cast(sum(cast(order_amount_krw as decimal(38, 10))) as double) as order_amount_krw,
        count(*) as order_lines,
        count(distinct product_id) as ordered_products
    from orders
    group by week_start, customer_id
),

revenue_totals as (
    select
        week_start,
        customer_id,
        cast(sum(cast(shipped_qty as decimal(38, 10))) as double) as shipped_qty,
        cast(sum(cast(revenue_krw as decimal(38, 10))) as double) as revenue_krw
    from revenue
    group by week_start, customer_id
),

customer_weeks as (
    select week_start, customer_id from order_totals
    union
    select week_start, customer_id from revenue_totals
),

final as (
    select
        customer_weeks.week_start,
        cast(extract(isoyear from customer_weeks.week_start) as integer) as iso_year,
        cast(extract(week from customer_weeks.week_start) as integer) as iso_week,
        customer_weeks.customer_id,
        coalesce(order_totals.order_qty, 0) as order_qty,
        coalesce(order_totals.order_amount_krw, 0) as order_amount_krw,
        coalesce(order_totals.order_lines, 0) as order_lines,
        coalesce(order_totals.ordered_products, 0) as ordered_products,
        coalesce(revenue_totals.shipped_qty, 0) as shipped_qty,
        coalesce(revenue_totals.revenue_krw, 0) as revenue_krw
    from customer_weeks
    left join order_totals
        on order_totals.week_start = customer_weeks.week_start
        and order_totals.customer_id = customer_weeks.customer_id
    left join revenue_totals
        on revenue_totals.week_start = customer_weeks.week_start
        and revenue_totals.customer_id = customer_weeks.customer_id
)

select * from final
