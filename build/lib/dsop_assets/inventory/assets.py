"""Daily stock estimate and purchase lead times as weekly assets: the inventory picture as of each week."""

from datetime import timedelta

import dagster as dg
import polars as pl

from dsop_assets.decision_inputs import as_of
from dsop_assets.inventory.daily_inventory import estimate_daily_inventory
from dsop_assets.inventory.lead_time import lead_time_stats
from dsop_assets.lineage import history_until_partition, weeks_covering, window
from dsop_assets.partitions import weekly_partitions, weeks_in, window_dates
from dsop_resources import WAREHOUSE_POOL, Warehouse, Window

GROUP = "inventory"
# Counts are taken on month starts; two months back always reaches the latest one before a week.
_SNAPSHOT_LOOKBACK_DAYS = 62


@dg.asset(
    group_name=GROUP,
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    # Counts from 62 days back to the Monday after (a count closes the week before it); receipts of
    # POs placed at any time before; production and shipments of the same 62 days.
    deps=[window("inventory", weeks_covering(_SNAPSHOT_LOOKBACK_DAYS), 1),
          window("daily_production", weeks_covering(_SNAPSHOT_LOOKBACK_DAYS)),
          history_until_partition("purchase_order", weekly_partitions),
          window("daily_revenue", weeks_covering(_SNAPSHOT_LOOKBACK_DAYS)), "bom"],
    metadata={"partition_expr": "date"},
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="Estimated on-hand per item and day of the week: the latest month-start count carried "
    "forward with production, receipts, shipments and one-level BOM consumption (not clipped at zero). "
    "Also writes inventory_reconciliation: the estimate against each count dated inside the week.",
)
def daily_inventory_estimated(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    start, end = window_dates(context)
    since = start - timedelta(days=_SNAPSHOT_LOOKBACK_DAYS)
    params = {"since": since, "end": end}
    snapshots = warehouse.query(
        "select snapshot_date, product_id, on_hand_qty from inventory "
        "where snapshot_date >= $since and snapshot_date <= $end", params)
    if snapshots.filter(pl.col("snapshot_date") <= start).is_empty():
        context.log.warning(f"no inventory count between {since} and {start}: items start from zero")
    production = warehouse.query(
        "select production_date, product_id, produced_qty from daily_production "
        "where production_date >= $since and production_date < $end", params)
    receipts = warehouse.query(
        "select product_id, received_date, received_qty from purchase_order "
        "where received_date >= $since and received_date < $end", params)
    shipments = warehouse.query(
        "select revenue_date, product_id, shipped_qty from daily_revenue "
        "where revenue_date >= $since and revenue_date < $end", params)
    bom = warehouse.query("select parent_product_id, component_product_id, qty_per, scrap_rate from bom")
    daily, reconciliation = estimate_daily_inventory(snapshots, production, receipts, shipments, bom, start, end)
    rows = warehouse.write("daily_inventory_estimated", daily, window=Window("date", start, end))
    # A count is reconciled by the week holding the day before it, so this run owns counts in (start, end].
    warehouse.write("inventory_reconciliation", reconciliation,
                    window=Window("snapshot_date", start + timedelta(days=1), end + timedelta(days=1)))
    errors = reconciliation["error_qty"].abs()
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "items": daily["item_id"].n_unique(),
        "negative_estimates": daily.filter(pl.col("closing_qty") < -1e-9).height,
        "reconciled_counts": reconciliation.height,
        "mean_abs_reconciliation_error": float(errors.mean()) if reconciliation.height else None,
        "mean_abs_reconciliation_error_pct": float(reconciliation["error_pct"].abs().mean())
        if reconciliation["error_pct"].drop_nulls().len() else None,
    })


@dg.asset(
    group_name=GROUP,
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[history_until_partition("purchase_order", weekly_partitions), "supplier"],
    metadata={"partition_expr": "week_start"},
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="Purchase lead-time statistics (mean, P50, P90, spread, on-time rate, open quantity) per "
    "material and supplier as known at the end of each week: lines received after that Sunday count as open.",
)
def product_lead_time(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    start, end = window_dates(context)
    orders = warehouse.query(
        "select product_id, supplier_id, order_date, order_qty, unit_cost, promised_date, received_date, "
        "received_qty from purchase_order where order_date < $end", {"end": end})
    frames = [
        lead_time_stats(orders, as_of(week)).with_columns(week_start=pl.lit(week), as_of=pl.lit(as_of(week)))
        for week in weeks_in(start, end)
    ]
    stats = pl.concat(frames) if frames else pl.DataFrame()
    rows = warehouse.write("product_lead_time", stats, window=Window("week_start", start, end))
    latest = stats.filter(pl.col("week_start") == stats["week_start"].max()) if rows else stats
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "pairs_latest_week": latest.height,
        "median_p90_days_latest_week": float(latest["p90_days"].median()) if rows and latest["p90_days"].drop_nulls().len() else None,
    })
