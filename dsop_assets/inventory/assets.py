"""Daily stock estimate and purchase lead times as weekly assets: the inventory picture as of each week.

They are data (partitioned from the history's start, built over all of it): the replay and the risk
backtest read the stock of every past week, not only of the weeks decided since go-live.
"""

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


# Counts from 62 days back to the Monday after (a count closes the week before it); receipts of
# POs placed at any time before; production and shipments of the same 62 days.
_ESTIMATE_DEPS = [window("inventory", weeks_covering(_SNAPSHOT_LOOKBACK_DAYS), 1),
                  window("daily_production", weeks_covering(_SNAPSHOT_LOOKBACK_DAYS)),
                  history_until_partition("purchase_order", weekly_partitions),
                  window("daily_revenue", weeks_covering(_SNAPSHOT_LOOKBACK_DAYS)), "bom"]
RECONCILIATION_TABLE = "inventory_reconciliation"
RESIDUAL_CHECK = "inventory_reconciliation_residual"


@dg.multi_asset(
    name="daily_inventory_estimated",
    specs=[
        dg.AssetSpec("daily_inventory_estimated", group_name=GROUP, deps=_ESTIMATE_DEPS, kinds={"polars", "duckdb"},
                     metadata={"partition_expr": "date"},
                     description="Estimated on-hand per item and day of the week: the latest month-start count "
                     "carried forward with production, receipts, shipments and one-level BOM consumption (not "
                     "clipped at zero)."),
        # Its rows are the counts dated (W, W+7]: the count on the Monday after closes week W, so
        # snapshot_date is not a partition column of W (no partition_expr, no in-partition rule).
        dg.AssetSpec(RECONCILIATION_TABLE, group_name=GROUP, deps=_ESTIMATE_DEPS, kinds={"polars", "duckdb"},
                     description="The estimate against each stock count dated in (W, W+7]: estimated_qty (the "
                     "closing estimate of the day before, carried from base_snapshot_date), snapshot_qty, "
                     "error_qty = estimated - counted and error_pct."),
    ],
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[dg.AssetCheckSpec(RESIDUAL_CHECK, asset=RECONCILIATION_TABLE,
                                   description="Stored rows of the run's weeks: one per item and count date, "
                                   "error_qty = estimated_qty - snapshot_qty, error_pct = 100 x error / count, "
                                   "each count reconciled from an earlier one.")],
    pool=WAREHOUSE_POOL,
)
def daily_inventory_estimated(context: dg.AssetExecutionContext, warehouse: Warehouse):
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
    owned = Window("snapshot_date", start + timedelta(days=1), end + timedelta(days=1))
    reconciled = warehouse.write(RECONCILIATION_TABLE, reconciliation, window=owned)
    yield dg.MaterializeResult(asset_key="daily_inventory_estimated", metadata={
        "dagster/row_count": rows,
        "items": daily["item_id"].n_unique(),
        "negative_estimates": daily.filter(pl.col("closing_qty") < -1e-9).height,
    })
    yield reconciliation_result(warehouse.read_table(RECONCILIATION_TABLE, owned), reconciled)


def residual_problems(stored: pl.DataFrame) -> dict[str, int]:
    """Stored reconciliation rows that break its definition, counted per rule."""
    if stored.is_empty():
        return {}
    residual = pl.col("estimated_qty") - pl.col("snapshot_qty")
    scale = pl.max_horizontal(pl.lit(1.0), pl.col("snapshot_qty").abs(), pl.col("estimated_qty").abs())
    pct = 100.0 * pl.col("error_qty") / pl.col("snapshot_qty")
    problems = {
        "duplicate item and count date": stored.height - stored.select("item_id", "snapshot_date").n_unique(),
        "error_qty is not estimated - counted": stored.filter(
            (pl.col("error_qty") - residual).abs() > 1e-9 * scale).height,
        "error_pct off (or set for a zero count)": stored.filter(
            pl.when(pl.col("snapshot_qty") == 0).then(pl.col("error_pct").is_not_null())
            .otherwise((pl.col("error_pct") - pct).abs().fill_null(1.0) > 1e-6 * (1.0 + pct.abs()))).height,
        "not carried from an earlier count": stored.filter(
            pl.col("base_snapshot_date").is_null() | (pl.col("base_snapshot_date") >= pl.col("snapshot_date"))).height,
    }
    return {rule: n for rule, n in problems.items() if n}


def reconciliation_result(stored: pl.DataFrame, written: int) -> dg.MaterializeResult:
    problems = residual_problems(stored)
    errors = stored["error_qty"].abs() if stored.height else pl.Series([], dtype=pl.Float64)
    pct = stored["error_pct"].drop_nulls().abs() if stored.height else pl.Series([], dtype=pl.Float64)
    return dg.MaterializeResult(
        asset_key=RECONCILIATION_TABLE,
        metadata={"dagster/row_count": written,
                  "mean_abs_reconciliation_error": float(errors.mean()) if errors.len() else None,
                  "mean_abs_reconciliation_error_pct": float(pct.mean()) if pct.len() else None},
        check_results=[dg.AssetCheckResult(asset_key=RECONCILIATION_TABLE, check_name=RESIDUAL_CHECK, passed=not problems,
                                           metadata={"rows_checked": stored.height,
                                                     "problems": dg.MetadataValue.json(problems)})])


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
