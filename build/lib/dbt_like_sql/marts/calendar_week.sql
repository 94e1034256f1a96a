-- ISO weeks (Monday start) covering the order history plus half a year of planning horizon.
-- config: materialized=table, group=marts
with

orders as (
    select * from {{ source('erp', 'daily_order') }}
),

bounds as (
    select
        cast(date_trunc('week', min(order_date)) as date) as first_monday,
        max(greatest(order_date, requested_delivery_date)) as last_day
    from orders
),

weeks as (
    select cast(week_series.week_start as date) as week_start
    from bounds,
        generate_series(
            cast(bounds.first_monday as timestamp),
            cast(bounds.last_day as timestamp) + interval '182 days',
            interval '7 days'
        ) as week_series (week_start)
),

final as (
    select
        week_start,
        cast(week_start + interval '6 days' as date) as week_end,
        cast(extract(isoyear from week_start) as integer) as iso_year,
        cast(extract(week from week_start) as integer) as iso_week,
        cast(extract(isoyear from week_start) as varchar) || '-W'
            || lpad(cast(extract(week from week_start) as varchar), 2, '0') as iso_week_label,
        cast(date_trunc('month', week_start) as date) as month_start,
        cast(extract(month from week_start) as integer) as month,
        cast(extract(quarter from week_start) as integer) as quarter,
        extract(month from week_start + interval '7 days') != extract(month from week_start)
            and extract(month from week_start) in (3, 6, 9, 12) as is_quarter_end_week
    from weeks
)

select * from final
