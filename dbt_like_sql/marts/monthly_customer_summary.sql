-- Orders and revenue per customer and calendar month (from the daily grain), with each
-- customer's share of the month's order amount and its rank (top 10 flagged).
-- config: materialized=table, partitioned_by=month, partition_column=month_start
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
        month_start,
        customer_id,
        cast(sum(cast(order_qty as decimal(38, 10))) as double) as order_qty,
        cast(sum(cast(order_amount_krw as decimal(38, 10))) as double) as order_amount_krw,
        count(distinct product_id) as ordered_products
    from orders
    group by month_start, customer_id
),

revenue_totals as (
    select
        month_start,
        customer_id,
        cast(sum(cast(shipped_qty as decimal(38, 10))) as double) as shipped_qty,
        cast(sum(cast(revenue_krw as decimal(38, 10))) as double) as revenue_krw
    from revenue
    group by month_start, customer_id
),

customer_months as (
    select month_start, customer_id from order_totals
    union
    select month_start, customer_id from revenue_totals
),

combined as (
    select
        customer_months.month_start,
        customer_months.customer_id,
        coalesce(order_totals.order_qty, 0) as order_qty,
        coalesce(order_totals.order_amount_krw, 0) as order_amount_krw,
        coalesce(order_totals.ordered_products, 0) as ordered_products,
        coalesce(revenue_totals.shipped_qty, 0) as shipped_qty,
        coalesce(revenue_totals.revenue_krw, 0) as revenue_krw
    from customer_months
    left join order_totals
        on order_totals.month_start = customer_months.month_start
        and order_totals.customer_id = customer_months.customer_id
    left join revenue_totals
        on revenue_totals.month_start = customer_months.month_start
        and revenue_totals.customer_id = customer_months.customer_id
),

final as (
    select
        month_start,
        customer_id,
        order_qty,
        order_amount_krw,
        ordered_products,
        shipped_qty,
        revenue_krw,
        order_amount_krw / nullif(
            cast(sum(cast(order_amount_krw as decimal(38, 10))) over (partition by month_start) as double), 0
        ) as order_amount_share,
        rank() over (partition by month_start order by order_amount_krw desc, customer_id) as order_amount_rank,
        rank() over (partition by month_start order by order_amount_krw desc, customer_id) <= 10 as is_top10
    from combined
)

select * from final
