-- Orders, shipments and production per product and calendar month (from the daily grain),
-- with the change against the previous month.
-- config: materialized=table, partitioned_by=month, partition_column=month_start
-- Doubles are summed as decimal(38, 10): exact, so every run gives the same bits (a parallel double sum's
-- last bit follows how DuckDB's threads split the rows); a value or total of ~1e28 or more fails the model.
with

orders as (
    select * from {{ ref('stg_daily_order') }}
    where order_date >= {{ partition_start }} - interval '1 month' and order_date < {{ partition_end }}
),

revenue as (
    select * from {{ ref('stg_daily_revenue') }}
    where revenue_date >= {{ partition_start }} - interval '1 month' and revenue_date < {{ partition_end }}
),

production as (
    select * from {{ ref('stg_daily_production') }}
    where production_date >= {{ partition_start }} - interval '1 month' and production_date < {{ partition_end }}
),

order_totals as (
    select
        month_start,
        product_id,
        cast(sum(cast(order_qty as decimal(38, 10))) as double) as order_qty,
        cast(sum(cast(order_amount_krw as decimal(38, 10))) as double) as order_amount_krw,
        count(*) as order_lines
    from orders
    group by month_start, product_id
),

revenue_totals as (
    select
        month_start,
        product_id,
        cast(sum(cast(shipped_qty as decimal(38, 10))) as double) as shipped_qty,
        cast(sum(cast(revenue_krw as decimal(38, 10))) as double) as revenue_krw
    from revenue
    group by month_start, product_id
),

production_totals as (
    select
        month_start,
        product_id,
        cast(sum(cast(produced_qty as decimal(38, 10))) as double) as produced_qty
    from production
    group by month_start, product_id
),

product_months as (
    select month_start, product_id from order_totals
    union
    select month_start, product_id from revenue_totals
    union
    select month_start, product_id from production_totals
),

monthly as (
    select
        product_months.month_start,
        product_months.product_id,
        coalesce(order_totals.order_qty, 0) as order_qty,
        coalesce(order_totals.order_amount_krw, 0) as order_amount_krw,
        coalesce(order_totals.order_lines, 0) as order_lines,
        coalesce(revenue_totals.shipped_qty, 0) as shipped_qty,
        coalesce(revenue_totals.revenue_krw, 0) as revenue_krw,
        coalesce(production_totals.produced_qty, 0) as produced_qty
    from product_months
    left join order_totals
        on order_totals.month_start = product_months.month_start
        and order_totals.product_id = product_months.product_id
    left join revenue_totals
        on revenue_totals.month_start = product_months.month_start
        and revenue_totals.product_id = product_months.product_id
    left join production_totals
        on production_totals.month_start = product_months.month_start
        and production_totals.product_id = product_months.product_id
),

final as (
    select
        current_month.month_start,
        current_month.product_id,
        current_month.order_qty,
        current_month.order_amount_krw,
        current_month.order_lines,
        current_month.shipped_qty,
        current_month.revenue_krw,
        current_month.produced_qty,
        coalesce(previous_month.order_qty, 0) as previous_order_qty,
        current_month.order_qty - coalesce(previous_month.order_qty, 0) as order_qty_mom_change,
        case
            when coalesce(previous_month.order_qty, 0) = 0 then null
            else (current_month.order_qty - previous_month.order_qty) / previous_month.order_qty
        end as order_qty_mom_pct,
        current_month.revenue_krw - coalesce(previous_month.revenue_krw, 0) as revenue_krw_mom_change
    from monthly as current_month
    left join monthly as previous_month
        on previous_month.product_id = current_month.product_id
        and cast(previous_month.month_start + interval '1 month' as date) = current_month.month_start
    where current_month.month_start >= {{ partition_start }}
)

select * from final
