"""The planner's assets: the weekly report, its alerts, the action follow-up and the KPI trend."""

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import polars as pl

from dsop_assets.forecast.accuracy import core_groups
from dsop_assets.partitions import iso_week_label, decision_weekly_partitions, weeks_in, window_dates
from dsop_assets.planner import action_status as status
from dsop_assets.planner import charts
from dsop_assets.planner.action_kpi import OUTCOME_DAYS, action_kpi, action_outcomes
from dsop_assets.planner.alerts import TABLE as ALERT_TABLE
from dsop_assets.planner.build import build_report, section_counts, week_alerts
from dsop_assets.planner.html import SECTIONS
from dsop_assets.planner.kpi_trend import TARGETS, accuracy_by_week, kpi_trend, risk_by_week, sync_by_week
from dsop_assets.planner.settings import action_drop_dir, report_dir, report_languages
from dsop_assets.planner.sources import dsop_policy, read_optional
from dsop_assets.risk.assets import load_risk_config
from dsop_resources import WAREHOUSE_POOL, Warehouse, Window

GROUP = "planner"
REPORT_TABLE = "weekly_planning_report"
DROP_PATTERN = "action_status*.csv"


class ReportConfig(dg.Config):
    languages: str = ""  # comma-separated subset of ko,en; empty: $DSOP_REPORT_LANGUAGES or "ko,en"
    output_dir: str = ""  # empty: $DSOP_REPORT_DIR/weekly


def _markdown_images(images: dict[str, bytes | None]) -> str:
    shown = [(name, image) for name, image in images.items() if image and name in ("forecast", "risk")]
    return "\n\n".join(f"**{name}**\n\n![{name}]({charts.data_uri(image)})" for name, image in shown) or "no plots"


@dg.asset(
    group_name=GROUP,
    partitions_def=decision_weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["action_queue", "risk_score", "production_plan", "production_plan_line", "purchase_recommendation", "forecast_weekly",
          "daily_inventory_estimated", "weekly_product_summary", "pipeline_health", "action_status"],
    kinds={"html", "matplotlib"},
    pool=WAREHOUSE_POOL,
    description="One self-contained HTML file per ISO week and language (Korean / English; config or "
    "$DSOP_REPORT_LANGUAGES): KPI header, forecast bands vs actuals, risk heat map with grade changes, "
    "action queue, production plan per line, purchase list with late orders, customer alerts and anomalies. "
    "Pictures are matplotlib PNGs inlined as data URIs: the file opens offline. Files go to "
    "$DSOP_REPORT_DIR/weekly; the table lists them.",
)
def weekly_planning_report(context: dg.AssetExecutionContext, config: ReportConfig,
                           warehouse: Warehouse) -> dg.MaterializeResult:
    start, end = window_dates(context)
    languages = report_languages(config.languages or None)
    out_dir = Path(config.output_dir) if config.output_dir else report_dir()
    rows, last = [], None
    for week in weeks_in(start, end):
        built = build_report(warehouse, week, out_dir, languages)
        for language, path in built.files.items():
            rows.append({"week_start": week, "iso_week": iso_week_label(week), "language": language,
                         "file_path": str(path.resolve()), "bytes": path.stat().st_size,
                         "sections": ",".join(SECTIONS), **section_counts(built)})
        last = built
    frame = pl.DataFrame(rows)
    written = warehouse.write(REPORT_TABLE, frame, window=Window("week_start", start, end)) if rows else 0
    metadata: dict[str, object] = {"dagster/row_count": written}
    if last is not None:
        for language, path in last.files.items():
            metadata[f"report_{language}"] = dg.MetadataValue.path(str(path.resolve()))
        metadata["open_in_browser"] = dg.MetadataValue.url(next(iter(last.files.values())).resolve().as_uri())
        metadata["key_plots"] = dg.MetadataValue.md(_markdown_images(last.images))
        metadata["contents"] = dg.MetadataValue.json(section_counts(last))
        metadata["kpis"] = dg.MetadataValue.json({k: v for k, v in last.data.kpis.items()
                                                  if isinstance(v, (int, float, str, type(None)))})
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name=GROUP,
    partitions_def=decision_weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["action_queue", "risk_score"],
    kinds={"polars"},
    pool=WAREHOUSE_POOL,
    description="Plain-language alerts (Korean and English, with the numbers) for week W: Critical and High "
    "actions, customer demand alerts and demand anomalies. alert_id is stable across re-runs; the "
    "alert_webhook_sensor posts each one once.",
)
def planner_alert(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    start, end = window_dates(context)
    alerts = pl.concat([week_alerts(warehouse, w) for w in weeks_in(start, end)], how="vertical_relaxed")
    rows = warehouse.write(ALERT_TABLE, alerts, window=Window("week_start", start, end))
    preview = "\n".join(f"- **{r['severity']}** {r['message_en']}" for r in alerts.head(10).iter_rows(named=True))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "by_kind": dict(sorted(alerts.group_by("kind").len().rows())) if rows else {},
        "preview": dg.MetadataValue.md(preview or "no alerts"),
    })


@dg.asset(
    group_name=GROUP,
    deps=["action_queue"],
    kinds={"polars"},
    pool=WAREHOUSE_POOL,
    description="Planners' status updates (done / dismissed with a reason / snoozed until a date / in "
    "progress / reopened): a source table of its own, never written by action_queue. This asset loads "
    "every action_status*.csv in $DSOP_ACTION_DROP_DIR (new rows only: an update's id hashes its content); "
    "`dsop action` writes to the same table. Bad rows go to action_status_rejected with file, line and reason.",
)
def action_status(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    folder = action_drop_dir()
    known = set(warehouse.query("select distinct action_id from action_queue")["action_id"]) \
        if warehouse.table_exists("action_queue") else set()
    loaded, rejected, per_file = [], [], {}
    for path in sorted(folder.glob(DROP_PATTERN)) if folder.exists() else []:
        mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).replace(tzinfo=None, microsecond=0)
        try:
            good, bad = status.parse_csv(path, known, mtime)
        except status.ActionStatusError as error:  # one unreadable file must not hold back the others
            context.log.error(str(error))
            good = pl.DataFrame(schema=status.SCHEMA)
            bad = pl.DataFrame([{"source_file": path.name, "source_line": 1, "raw": "", "reason": str(error)}],
                               schema=status.REJECTED_SCHEMA)
        loaded.append(good)
        rejected.append(bad)
        per_file[path.name] = {"loaded": good.height, "rejected": bad.height}
        for row in bad.head(5).iter_rows(named=True):
            context.log.warning(f"{row['source_file']} line {row['source_line']}: {row['reason']}")
    good = pl.concat(loaded) if loaded else pl.DataFrame(schema=status.SCHEMA)
    bad = pl.concat(rejected) if rejected else pl.DataFrame(schema=status.REJECTED_SCHEMA)
    if good.height:
        warehouse.write(status.TABLE, good, keys={"update_id": good["update_id"].to_list()})
    elif not warehouse.table_exists(status.TABLE):
        warehouse.write(status.TABLE, good)  # the table exists from the start, so readers can rely on it
    if per_file:
        warehouse.write(status.REJECTED_TABLE, bad, keys={"source_file": list(per_file)})
    total = warehouse.row_count(status.TABLE)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": total, "files": dg.MetadataValue.json(per_file),
        "loaded_rows": good.height, "rejected_rows": bad.height, "drop_folder": str(folder),
    })


def _stock(warehouse: Warehouse, first: date, last: date) -> pl.DataFrame:
    if not warehouse.table_exists("daily_inventory_estimated"):
        return pl.DataFrame(schema={"item_id": pl.String, "date": pl.Date, "closing_qty": pl.Float64})
    return warehouse.query("select item_id, date, closing_qty from daily_inventory_estimated "
                           "where date >= $a and date < $b", {"a": first, "b": last})


def compute_action_kpi(warehouse: Warehouse) -> pl.DataFrame:
    if not warehouse.table_exists("action_queue"):
        return action_kpi(pl.DataFrame())
    actions = warehouse.query("select action_id, week_start, product_id, action_type, priority from action_queue")
    updates = warehouse.read_table(status.TABLE)
    if updates.is_empty():
        updates = pl.DataFrame(schema=status.SCHEMA)
    if actions.is_empty():
        return action_kpi(pl.DataFrame())
    stock = _stock(warehouse, actions["week_start"].min() + timedelta(days=7),
                   actions["week_start"].max() + timedelta(days=7 + OUTCOME_DAYS))
    return action_kpi(action_outcomes(actions, updates, stock))


@dg.asset(
    name="action_kpi",
    group_name=GROUP,
    deps=["action_queue", "action_status", "daily_inventory_estimated"],
    kinds={"polars"},
    pool=WAREHOUSE_POOL,
    description="Per week of actions: share acted upon, days from publication (the Monday after the week) to "
    f"the first update, and for stock-out actions whether the stock reached zero within {OUTCOME_DAYS} days, "
    "acted vs not acted. Rebuilt whole (a status recorded today changes past weeks).",
)
def action_kpi_asset(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    kpi = compute_action_kpi(warehouse)
    rows = warehouse.write("action_kpi", kpi)
    acted = kpi["n_acted"].sum() / kpi["n_actions"].sum() if kpi.height and kpi["n_actions"].sum() else None
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "acted_share_all_weeks": float(acted) if acted is not None else None,
        "latest_weeks": dg.MetadataValue.md(_markdown(kpi.tail(8).select(
            "week_start", "n_actions", "n_acted", "acted_share", "median_days_to_act", "acted_stockout_rate",
            "not_acted_stockout_rate"))),
    })


def compute_kpi_trend(warehouse: Warehouse) -> pl.DataFrame:
    config = load_risk_config()
    empty = pl.DataFrame(schema={"week_start": pl.Date})
    accuracy = empty
    if warehouse.table_exists("forecast_result") and warehouse.table_exists("weekly_product_summary"):
        forecast = warehouse.query("select product_id, target_start as week_start, avg(p50) as p50 from forecast_result "
                                   "where cadence = 'weekly' and level = 'product' and horizon = 1 group by all")
        actual = warehouse.query("select product_id, week_start, order_qty from weekly_product_summary")
        products = warehouse.query("select product_id, product_group from product_master "
                                   "where product_type = 'finished_good'")
        core = products.filter(pl.col("product_group").is_in(core_groups(actual, products)))["product_id"].to_list()
        accuracy = accuracy_by_week(forecast, actual, core)
    risk = risk_by_week(warehouse.read_table("risk_score"), config) if warehouse.table_exists("risk_score") else empty
    replay = dsop_policy(read_optional(warehouse, "decision_replay").frame).group_by("week_start").agg(
        pl.col("fill_rate").mean())
    kpi = warehouse.read_table("action_kpi") if warehouse.table_exists("action_kpi") else pl.DataFrame()
    adoption = kpi.select("week_start", pl.col("acted_share").alias("adoption")) if kpi.height else \
        pl.DataFrame(schema={"week_start": pl.Date, "adoption": pl.Float64})
    health = warehouse.read_table("pipeline_health") if warehouse.table_exists("pipeline_health") else pl.DataFrame()
    return kpi_trend(accuracy, risk, replay, adoption, sync_by_week(health))


@dg.asset(
    name="kpi_trend",
    group_name=GROUP,
    deps=["forecast_weekly", "weekly_product_summary", "risk_score", "action_kpi", "pipeline_health"],
    kinds={"polars"},
    pool=WAREHOUSE_POOL,
    description="Week by week: MAPE/WAPE on core products, stock-out and excess risk counts by grade, fill rate "
    "from decision_replay, adoption from action_kpi, sync success from pipeline_health, each against the "
    "founding document's target (MAPE 10-15 %, adoption >= 80 %, risk -20 % vs the first week, sync >= 99 %).",
)
def kpi_trend_asset(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    trend = compute_kpi_trend(warehouse)
    rows = warehouse.write("kpi_trend", trend)
    image = charts.trend_chart(trend)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "targets": dg.MetadataValue.json(TARGETS),
        "trend": dg.MetadataValue.md(f"![kpi trend]({charts.data_uri(image)})" if image else "no weeks yet"),
    })


def _markdown(frame: pl.DataFrame) -> str:
    if frame.is_empty():
        return "no rows"
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join("" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v)) for v in row) + " |"
            for row in frame.iter_rows()]
    return "\n".join([head, *body])


planner_assets = [weekly_planning_report, planner_alert, action_status, action_kpi_asset, kpi_trend_asset]
