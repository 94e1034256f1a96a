"""Feature stores and quantile forecasts as assets, partitioned by origin (ISO week / month).

Materialising an old partition is forecasting as of then: every input is cut at the origin's
as_of, so the backtest is simply a backfill. Each cadence writes its own table,
``forecast_result_weekly`` / ``forecast_result_monthly`` (replacing the origins it covers), and
``forecast_result`` is a view of both, the name every reader queries.
"""

from datetime import date, timedelta

import dagster as dg
import polars as pl

from dsop_assets.forecast.config import MODEL_LGBM, MONTHLY_SPEC, WEEKLY_SPEC, monthly_config, weekly_config
from dsop_assets.forecast.features import (
    KEY_COLUMNS, book_start, build_monthly_features, build_targets, build_weekly_features, feature_batches,
    in_row_order, panel_start,
)
from dsop_assets.forecast.alerts import ALERT_COLUMNS, customer_alerts
from dsop_assets.forecast.forecasting import forecast_many
from dsop_assets.forecast.hierarchy import LEVEL_CUSTOMER, coherent
from dsop_assets.forecast.inputs import load_history
from dsop_assets.forecast.model import feature_importance, model_strings
from dsop_assets.forecast.model_tables import (
    IMPORTANCE_TABLE, MODEL_TABLE, importance_problems, model_problems, stored_rows,
)
from dsop_assets.forecast.model_tables import check_name as model_check
from dsop_assets.lineage import history_until_partition
from dsop_assets.partitions import (
    forecast_monthly_partitions,
    forecast_weekly_partitions,
    monthly_partitions,
    months_in,
    weekly_partitions,
    weeks_in,
    window_dates,
)
from dsop_resources import WAREHOUSE_POOL, Warehouse, Window, quote_identifier

GROUP = "forecast"
FEATURE_GROUP = "features"
SOURCES = ["daily_order", "daily_revenue", "product_master", "customer", "economic_indicator", "exchange_rate",
           "trade_statistics"]
_CADENCES = {
    "weekly": (forecast_weekly_partitions, weeks_in, build_weekly_features, weekly_config),
    "monthly": (forecast_monthly_partitions, months_in, build_monthly_features, monthly_config),
}


def _feature_store(cadence: str) -> dg.AssetsDefinition:
    _, periods_in, _, _ = _CADENCES[cadence]
    # The feature stores are data, built over the whole history (the forecasts' partitions start later).
    partitions_def = weekly_partitions if cadence == "weekly" else monthly_partitions
    spec = WEEKLY_SPEC if cadence == "weekly" else MONTHLY_SPEC
    name = f"feature_store_{cadence}"

    @dg.asset(
        name=name,
        group_name=FEATURE_GROUP,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[history_until_partition(k, partitions_def) if k in ("daily_order", "daily_revenue") else k for k in SOURCES],
        metadata={"partition_expr": "origin_date"},
        kinds={"polars"},
        pool=WAREHOUSE_POOL,
        description=f"{cadence.capitalize()} features per series (product and customer x product) and origin, "
        "built only from what was known at the origin's as_of (external values by their publication date).",
    )
    def _features(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        start, end = window_dates(context)
        history = load_history(warehouse, until=end, since=panel_start(spec, start), due_from=book_start(spec, start))
        freshness = external_freshness(history["indicators"], end)
        # Batches go to the warehouse as they are built and the history is handed over whole (``pop``),
        # so neither the whole store nor the raw order lines stay in memory through the build.
        batches = feature_batches(spec, *(history.pop(k) for k in ("orders", "revenue", "products", "customers",
                                                                     "indicators", "fx")), periods_in(start, end),
                                  order_history=history.pop("order_history"))
        window = Window("origin_date", start, end)
        rows = warehouse.write_batches(name, batches, window)
        if freshness["stale_providers"]:
            context.log.warning(f"external indicators older than {STALE_AFTER_DAYS} days at {end}: "
                                f"{freshness['stale_providers']}; features use the last known values")
        return dg.MaterializeResult(metadata={
            "external_last_known": dg.MetadataValue.json(freshness),
            "dagster/row_count": rows,
            "features": len([c for c in warehouse.columns(name) if c not in KEY_COLUMNS]) if rows else 0,
            "series_by_level": dict(warehouse.query(
                f"select level, count(*) as n from {quote_identifier(name)} where {window.predicate()} "
                "group by level order by level").rows()) if rows else {},
        })

    return _features


STALE_AFTER_DAYS = 45  # monthly series publish within ~30 days; beyond this a source has stopped


def external_freshness(indicators: pl.DataFrame | None, end: date) -> dict:
    """Newest value known per provider before ``end``: a failed source shows up as stale here."""
    if indicators is None or indicators.is_empty():
        return {"last_known_at": {}, "stale_providers": ["all (no external data)"]}
    latest = indicators.group_by("provider").agg(pl.col("known_at").max()).sort("provider")
    last = {p: str(d) for p, d in latest.rows()}
    stale = [p for p, d in latest.rows() if (end - d).days > STALE_AFTER_DAYS]
    return {"last_known_at": last, "stale_providers": stale}


def _forecast(cadence: str) -> dg.AssetsDefinition:
    partitions_def, _, _, make_config = _CADENCES[cadence]
    store = f"feature_store_{cadence}"
    deps = [history_until_partition(store, partitions_def), history_until_partition("daily_order", partitions_def)]

    @dg.multi_asset(
        name=f"forecast_{cadence}",
        specs=[
            dg.AssetSpec(f"forecast_{cadence}", group_name=GROUP, deps=[*deps, "product_master"],
                         kinds={"lightgbm", "polars"},
                         metadata={"partition_expr": "origin_date", "dsop/table": result_table(cadence),
                                   "dsop/view": RESULT_VIEW},  # the union of both cadences' tables
                         description=f"P10/P50/P90 and mean {cadence} demand per series for every horizon, as of "
                         "each origin: LightGBM quantile regression (monthly products: averaged with "
                         "AutoETS/AutoTheta), bias-corrected, bands calibrated per side, a moving-average fallback "
                         "(see model_id/method); pairs reconciled to products, plus product-group and customer totals."),
            # Both cadences write one forecast_model / forecast_feature_importance table (column
            # cadence); an asset per cadence owns its rows and shares the forecast's partitions.
            dg.AssetSpec(f"{MODEL_TABLE}_{cadence}", group_name=GROUP, deps=deps, kinds={"lightgbm", "duckdb"},
                         metadata={"dsop/table": MODEL_TABLE, "dsop/rows": f"cadence = '{cadence}'"},
                         description=f"The {cadence} LightGBM boosters fitted for the partition's origins: one row "
                         "per (model_version, level, quantile, horizon) with the booster as a model string."),
            dg.AssetSpec(f"{IMPORTANCE_TABLE}_{cadence}", group_name=GROUP, deps=deps, kinds={"lightgbm", "duckdb"},
                         metadata={"dsop/table": IMPORTANCE_TABLE, "dsop/rows": f"cadence = '{cadence}'"},
                         description=f"Gain importance of every feature in each {cadence} booster of "
                         f"{MODEL_TABLE} (horizon 0 = pooled over horizons)."),
        ],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=[
            dg.AssetCheckSpec(model_check(MODEL_TABLE, cadence), asset=f"{MODEL_TABLE}_{cadence}",
                              description="The run's model versions as stored: one row per booster, no empty "
                              "model string, every configured quantile per (version, level, horizon)."),
            dg.AssetCheckSpec(model_check(IMPORTANCE_TABLE, cadence), asset=f"{IMPORTANCE_TABLE}_{cadence}",
                              description="Finite non-negative gains, one row per booster and "
                              f"feature, for exactly the boosters {MODEL_TABLE} stores."),
        ],
        pool=WAREHOUSE_POOL,
        description=f"Forecasts every {cadence} origin of the partition and stores the fitted models and their "
        "feature importance beside the result.",
    )
    def _run(context: dg.AssetExecutionContext, warehouse: Warehouse):
        start, end = window_dates(context)
        config = make_config()
        features = in_row_order(warehouse.query(f"select * from {quote_identifier(store)} where origin_date < $end",
                                                {"end": end}))
        if features.is_empty():
            raise dg.Failure(f"{store} has no rows before {end}: materialise it for these origins first")
        orders = warehouse.query(
            "select order_date, customer_id, product_id, order_qty from daily_order where order_date < $end", {"end": end})
        targets = build_targets(orders, cadence, up_to=end - timedelta(days=1))
        origins = features.filter((pl.col("origin_date") >= start) & (pl.col("origin_date") < end))
        past = _past_forecasts(warehouse, cadence, start, config)
        result, models = forecast_many(features, targets, sorted(origins["origin_period"].unique().to_list()), config,
                                       past_forecasts=past)
        result = coherent(result, warehouse.query("select product_id, product_group from product_master"))
        written = warehouse.write(result_table(cadence), result, window=Window("origin_date", start, end))
        refresh_result_view(warehouse)
        importance = pl.concat([feature_importance(m) for m in models]) if models else pl.DataFrame()
        versions = [m.version for m in models]
        if models:
            warehouse.write(MODEL_TABLE, pl.concat([model_strings(m) for m in models]).with_columns(
                cadence=pl.lit(cadence)), keys={"model_version": versions})
            warehouse.write(IMPORTANCE_TABLE, importance.with_columns(cadence=pl.lit(cadence)),
                            keys={"model_version": versions})
        yield dg.MaterializeResult(asset_key=f"forecast_{cadence}",
                                   metadata=_forecast_metadata(result, importance, written))
        yield from _model_results(warehouse, cadence, versions, config.quantiles)

    return _run


def _model_results(warehouse: Warehouse, cadence: str, versions: list[str], quantiles: tuple[float, ...]):
    """Row counts and checks of the model and importance assets: the run's versions, read back as stored."""
    models = stored_rows(warehouse, MODEL_TABLE, cadence, versions,
                         "model_version, level, quantile, horizon, length(model_string) as chars")
    importance = stored_rows(warehouse, IMPORTANCE_TABLE, cadence, versions,
                             "model_version, level, quantile, horizon, feature, importance")
    for table, rows, problems in ((MODEL_TABLE, models, model_problems(models, quantiles)),
                                  (IMPORTANCE_TABLE, importance, importance_problems(importance, models))):
        yield dg.MaterializeResult(
            asset_key=f"{table}_{cadence}",
            metadata={"dagster/row_count": rows.height, "model_versions": len(versions)},
            check_results=[dg.AssetCheckResult(asset_key=f"{table}_{cadence}", check_name=model_check(table, cadence), passed=not problems,
                                               metadata={"rows_checked": rows.height,
                                                         "problems": dg.MetadataValue.json(problems)})])


RESULT_VIEW = "forecast_result"


def result_table(cadence: str) -> str:
    return f"{RESULT_VIEW}_{cadence}"


def refresh_result_view(warehouse: Warehouse) -> None:
    """(Re)create ``forecast_result`` as the union of the per-cadence tables that exist.

    A ``forecast_result`` *table* from before the split is renamed ``forecast_result_legacy`` (kept,
    never dropped) so the view can take its name.
    """
    kind = warehouse.query("select table_type from information_schema.tables where table_name = $n",
                           {"n": RESULT_VIEW})
    if kind.height and kind["table_type"][0] != "VIEW":
        warehouse.execute(f"alter table {RESULT_VIEW} rename to {RESULT_VIEW}_legacy")
    tables = [t for t in (result_table("weekly"), result_table("monthly")) if warehouse.table_exists(t)]
    if not tables:
        return
    columns = warehouse.columns(tables[0])
    for t in tables[1:]:
        columns = [c for c in columns if c in set(warehouse.columns(t))]
    select = ", ".join(quote_identifier(c) for c in columns)
    union = " union all ".join(f"select {select} from {quote_identifier(t)}" for t in tables)
    warehouse.execute(f"create or replace view {RESULT_VIEW} as {union}")


def _past_forecasts(warehouse: Warehouse, cadence: str, start: date, config) -> pl.DataFrame | None:
    """Earlier origins' stored forecasts, the band calibration's history (none on a first run)."""
    since = start - timedelta(days=(7 if cadence == "weekly" else 31) * (config.past_origins_needed + 1))
    table = result_table(cadence)
    if not warehouse.table_exists(table):
        return None
    past = warehouse.query(f"select * from {quote_identifier(table)} where cadence = $c and origin_date < $start "
                           "and origin_date >= $since", {"c": cadence, "start": start, "since": since})
    return past if past.height else None


def _forecast_metadata(result: pl.DataFrame, importance: pl.DataFrame, written: int) -> dict:
    methods = dict(result.group_by("method").len().rows()) if written else {}
    metadata = {"dagster/row_count": written, "rows_by_method": methods,
                "origins": result["origin_date"].n_unique() if written else 0}
    if importance.height:
        top = (importance.filter(pl.col("quantile") == 0.5).group_by("feature").agg(pl.col("importance").sum())
               .sort("importance", descending=True).head(15))
        metadata["top_features_p50_gain"] = dg.MetadataValue.md(
            "| feature | gain |\n|---|---:|\n" + "\n".join(f"| {f} | {g:,.0f} |" for f, g in top.rows()))
        metadata["model_versions"] = ", ".join(sorted(importance["model_version"].unique().to_list()))
    if written:
        latest = result.filter((pl.col("origin_date") == pl.col("origin_date").max()) & (pl.col("model_id") == MODEL_LGBM))
        scales = latest.group_by("level", "horizon").agg(pl.col("band_scale").first()).sort("level", "horizon")
        metadata["band_scale_latest_origin"] = dg.MetadataValue.json(
            {lv: {str(h): round(k, 3) for _, h, k in scales.filter(pl.col("level") == lv).rows()}
             for lv in scales["level"].unique().sort().to_list()})
    return metadata


@dg.asset(
    group_name=GROUP,
    partitions_def=forecast_monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["forecast_monthly", "daily_order"],
    metadata={"partition_expr": "origin_date"},
    kinds={"polars"},
    pool=WAREHOUSE_POOL,
    description="Per customer and monthly origin: orders expected next month vs the last 3 months, with the "
    "P10-P90 range and a plain-language message in English and Korean; is_alert when the change is >= 15 %.",
)
def customer_demand_alert(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    start, end = window_dates(context)
    h1 = warehouse.query(
        "select customer_id, origin_date, target_start, mean, p10, p90 from forecast_result_monthly where cadence = 'monthly' "
        "and level = $level and horizon = 1 and origin_date >= $start and origin_date < $end",
        {"level": LEVEL_CUSTOMER, "start": start, "end": end})
    history = warehouse.query(
        "select customer_id, date_trunc('month', order_date)::date as period_start, sum(order_qty) as qty "
        "from daily_order where order_date < $end group by 1, 2", {"end": end})
    alerts = customer_alerts(h1, history) if h1.height else pl.DataFrame(schema={c: pl.String for c in ALERT_COLUMNS})
    written = warehouse.write("customer_demand_alert", alerts, window=Window("origin_date", start, end))
    latest = alerts.filter(pl.col("is_alert") & (pl.col("origin_date") == pl.col("origin_date").max())) if written else alerts
    return dg.MaterializeResult(metadata={
        "dagster/row_count": written,
        "alerts_latest_origin": dg.MetadataValue.md("\n".join(f"- {m}" for m in latest["message_en"].head(10))
                                                    or "none"),
    })


forecast_assets = [
    _feature_store("weekly"), _feature_store("monthly"), _forecast("weekly"), _forecast("monthly"),
    customer_demand_alert,
]
