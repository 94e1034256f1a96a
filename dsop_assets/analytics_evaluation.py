"""Each analytics asset's evaluation (its score against what happened and against its baseline) is a
table and an asset of its own, ``<asset>_evaluation``, materialised by the same step as the asset and
partitioned like it; ``analytics_evaluation`` is the view over all of them that analysts query.

One shared table written by five assets on three partitionings had no asset, no lineage and no
partition status in the UI: a table nobody can see being built.
"""


from datetime import date

import dagster as dg
import polars as pl

from dsop_resources import WAREHOUSE_POOL, Warehouse, Window, quote_identifier

VIEW = "analytics_evaluation"
SCHEMA = {"asset": pl.String, "period_start": pl.Date, "metric": pl.String, "method": pl.String, "value": pl.Float64}
# The assets that evaluate themselves, in the view's order.
EVALUATED = ("customer_segment", "customer_churn_risk", "product_recommendation", "demand_anomaly",
             "inventory_policy_simulated")


def evaluation_table(asset: str) -> str:
    return f"{asset}_evaluation"


def evaluation_spec(asset: str, group: str) -> dg.AssetSpec:
    """The evaluation's spec, for ``asset``'s multi-asset (it takes the multi-asset's partitions)."""
    return dg.AssetSpec(
        evaluation_table(asset), group_name=group, kinds={"polars"},
        metadata={"partition_expr": "period_start"},
        description=f"How {asset} scored per period, against what happened and its baseline (asset, period_start, "
        f"metric, method, value); built in the same step as {asset}. The view {VIEW} unions every such table.",
    )


def write_evaluation(warehouse: Warehouse, asset: str, start: date, end: date, rows: list[dict]) -> dg.MaterializeResult:
    """Replace ``asset``'s evaluation rows in [start, end); the result materialises its evaluation asset."""
    frame = pl.DataFrame(rows, schema=SCHEMA)
    written = warehouse.write(evaluation_table(asset), frame, window=Window("period_start", start, end))
    return dg.MaterializeResult(asset_key=evaluation_table(asset), metadata={
        "dagster/row_count": written, "metrics": sorted(set(frame["metric"].to_list()))})


def refresh_view(warehouse: Warehouse) -> list[str]:
    """(Re)create the view over the evaluation tables that exist; returns them.

    The shared *table* of earlier versions is renamed ``analytics_evaluation_legacy`` (kept, never
    dropped) so the view can take its name."""
    kind = warehouse.query("select table_type from information_schema.tables where table_name = $n", {"n": VIEW})
    if kind.height and kind["table_type"][0] != "VIEW":
        warehouse.execute(f"alter table {VIEW} rename to {VIEW}_legacy")
    tables = [evaluation_table(a) for a in EVALUATED if warehouse.table_exists(evaluation_table(a))]
    columns = ", ".join(quote_identifier(c) for c in SCHEMA)
    union = " union all ".join(f"select {columns} from {quote_identifier(t)}" for t in tables)
    if not union:  # nothing evaluated yet: an empty view of the right shape
        union = "select " + ", ".join(f"cast(null as {t}) as {c}" for c, t in
                                      zip(SCHEMA, ("varchar", "date", "varchar", "varchar", "double"))) + " where false"
    warehouse.execute(f"create or replace view {VIEW} as {union}")
    return tables


@dg.asset(
    name=VIEW,
    group_name="evaluation",
    deps=[evaluation_table(a) for a in EVALUATED],
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    description="Every analytics evaluation in one view (asset, period_start, metric, method, value): segment "
    "stability, churn AUC against recency, recommendation hit-rate against popularity, anomaly precision and "
    "recall on planted anomalies, simulated against analytic inventory policy.",
)
def analytics_evaluation(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    tables = refresh_view(warehouse)
    rows = int(warehouse.query(f"select count(*) as n from {VIEW}")["n"][0])
    missing = [evaluation_table(a) for a in EVALUATED if evaluation_table(a) not in tables]
    if missing:
        context.log.warning(f"{VIEW}: not built yet, so not in the view: {', '.join(missing)}")
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "tables": tables, "not_built_yet": missing})


analytics_evaluation_assets = [analytics_evaluation]
