"""Risk grades and the action queue as weekly assets: what needs attention as of each ISO week."""

import json
import os
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import yaml

from dsop_assets.anomaly.actions import analytics_actions
from dsop_assets.decision_inputs import as_of, material_links, on_hand_at, open_orders, weekly_forecast
from dsop_assets.decision_inputs import OPEN_ORDER_LOOKBACK_DAYS
from dsop_assets.external.point_in_time import growth_as_of, krw_rate_as_of
from dsop_assets.lineage import history_until_partition, weeks_covering, window
from dsop_assets.partitions import decision_weekly_partitions, forecast_weekly_partitions, weeks_in, window_dates
from dsop_assets.planning.config import PurchaseConfig
from dsop_assets.planning.purchasing import choose_suppliers
from dsop_assets.risk.actions import action_kpis, build_actions, merge_action_status, queue_from
from dsop_assets.risk.backtest import OUTCOME_WEEKS, realised_events, score_backtest
from dsop_assets.risk.config import RiskConfig
from dsop_assets.risk.inputs import CONCENTRATION_DAYS, DEMAND_HORIZONS, assemble_risk_inputs, imported_shares
from dsop_assets.risk.scoring import score_risk
from dsop_resources import WAREHOUSE_POOL, Warehouse, Window

GROUP = "risk"
CONFIG_ENV = "DSOP_RISK_CONFIG"
# Material cost pressure: copper (most bought metal parts follow it); DRAM spot if copper is unknown.
MATERIAL_INDICES = (("fred", "PCOPPUSDM"), ("market", "DRAM_SPOT"))
FX_CURRENCY = "USD"
CHANGE_MONTHS = 3


def load_risk_config(run: RiskConfig | None = None) -> RiskConfig:
    """``RiskConfig`` defaults, overridden by the JSON / YAML file named in ``DSOP_RISK_CONFIG``, then
    by the fields a run's config (the launchpad) sets to other than their default: the file is the
    deployment's standing choice, a run's edit is the more specific one."""
    path = os.getenv(CONFIG_ENV)
    overrides = {}
    if path:
        text = Path(path).read_text(encoding="utf-8")
        overrides = (json.loads(text) if path.endswith(".json") else yaml.safe_load(text)) or {}
    return RiskConfig.from_dict({**overrides, **(run.overrides() if run is not None else {})})


def market_changes(warehouse: Warehouse, day: date) -> tuple[float | None, float | None, dict[str, float]]:
    """(material index 3-month change, USD/KRW 3-month change, KRW per unit by currency), all as known on ``day``."""
    indicators = warehouse.query(
        "select provider, series_id, observation_date, value, known_at from economic_indicator "
        "where known_at <= $day and series_id in ($a, $b)",
        {"day": day, "a": MATERIAL_INDICES[0][1], "b": MATERIAL_INDICES[1][1]},
    ) if warehouse.table_exists("economic_indicator") else pl.DataFrame()
    material = None
    if indicators.height:
        growth = growth_as_of(indicators, [day], {"change": CHANGE_MONTHS})
        for provider, series in MATERIAL_INDICES:
            found = growth.filter((pl.col("provider") == provider) & (pl.col("series_id") == series))["change"]
            if found.drop_nulls().len():
                material = float(found.drop_nulls()[0])
                break
    rates: dict[str, float] = {}
    fx = None
    if warehouse.table_exists("exchange_rate"):
        quotes = warehouse.query("select * from exchange_rate where rate_date <= $day", {"day": day})
        back = day - timedelta(days=round(CHANGE_MONTHS * 30.44))
        known = krw_rate_as_of(quotes, [day, back])
        rates = dict(known.filter(pl.col("as_of_date") == day).select("currency", "krw_per_unit").iter_rows())
        then = dict(known.filter(pl.col("as_of_date") == back).select("currency", "krw_per_unit").iter_rows())
        if rates.get(FX_CURRENCY) and then.get(FX_CURRENCY):
            fx = rates[FX_CURRENCY] / then[FX_CURRENCY] - 1.0
    return material, fx, rates


def material_lead_times(warehouse: Warehouse, week: date) -> pl.DataFrame:
    """``material_id, p90_days`` at the supplier the purchase recommendations would pick."""
    config = PurchaseConfig()
    lead = warehouse.query("select * from product_lead_time where week_start = $w", {"w": week})
    if lead.is_empty():
        return pl.DataFrame(schema={"material_id": pl.String, "p90_days": pl.Float64})
    return choose_suppliers(lead, config).select(
        pl.col("product_id").alias("material_id"),
        pl.col("p90_days").cast(pl.Float64).fill_null(config.default_lead_time_days))


def risk_inputs_for_week(warehouse: Warehouse, week: date, config: RiskConfig) -> pl.DataFrame:
    day = as_of(week)
    forecast = weekly_forecast(warehouse, week, DEMAND_HORIZONS)
    if forecast.is_empty():
        raise dg.Failure(f"no weekly product forecast with origin {week}: materialise forecast_weekly for {week} first")
    on_hand = on_hand_at(warehouse, day)
    if on_hand.is_empty():
        raise dg.Failure(f"no stock estimate for {day}: materialise daily_inventory_estimated for {week} first")
    goods = warehouse.query(
        "select product_id, unit_price, unit_cost, currency, eol_date from product_master "
        "where product_type = 'finished_good' and (launch_date is null or launch_date <= $day)", {"day": day})
    bom = warehouse.query("select parent_product_id, component_product_id, qty_per, scrap_rate from bom")
    links = material_links(bom, goods["product_id"].to_list())
    purchase_orders = warehouse.query(
        "select product_id, order_date, order_qty, unit_cost, currency from purchase_order where order_date <= $day",
        {"day": day})
    recent = warehouse.query(
        "select product_id, customer_id, order_qty from daily_order where order_date <= $day and order_date > $since",
        {"day": day, "since": day - timedelta(days=CONCENTRATION_DAYS)})
    material_change, fx_change, rates = market_changes(warehouse, day)
    lead = material_lead_times(warehouse, week)
    lead = links.select("material_id").unique().join(lead, on="material_id", how="left").with_columns(
        pl.col("p90_days").fill_null(PurchaseConfig().default_lead_time_days))
    orders = open_orders(warehouse, day)
    inputs = assemble_risk_inputs(
        week, day, goods, on_hand, forecast, orders, recent, lead, links,
        imported_shares(links, purchase_orders, goods, rates, day), material_change, fx_change, config)
    # A discontinued good matters only while it still holds stock or owes customers.
    retired = goods.filter(pl.col("eol_date") < week)["product_id"].to_list()
    return inputs.filter(~pl.col("product_id").is_in(retired) | (pl.col("on_hand_qty") > 0)
                         | (pl.col("open_order_qty") > 0))


@dg.asset(
    group_name=GROUP,
    # With the forecasts (their backtest origins), not from go-live: risk_backtest scores past grades.
    partitions_def=forecast_weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["forecast_weekly", "daily_inventory_estimated", "product_lead_time", "economic_indicator",
          "exchange_rate", window("daily_order", weeks_covering(max(OPEN_ORDER_LOOKBACK_DAYS, CONCENTRATION_DAYS))),
          history_until_partition("daily_revenue", forecast_weekly_partitions), "product_master", "bom",
          history_until_partition("purchase_order", forecast_weekly_partitions)],
    metadata={"partition_expr": "week_start"},
    kinds={"polars"},
    pool=WAREHOUSE_POOL,
    description="Risk grade A-F per finished good as of week W: stockout, excess, delivery and margin scores "
    "(0..100) from stock at W's Sunday, the forecast made at W, the open order book, material lead times, "
    "copper and USD/KRW 3-month changes known by then. Weights and thresholds: RiskConfig defaults "
    f"(dominant_floor 0.8, safety_ratio 1.0: set from risk_backtest), overridable by a JSON or YAML file whose path is in ${CONFIG_ENV}.",
)
def risk_score(context: dg.AssetExecutionContext, warehouse: Warehouse, config: RiskConfig) -> dg.MaterializeResult:
    start, end = window_dates(context)
    config = load_risk_config(config)
    inputs = pl.concat([risk_inputs_for_week(warehouse, w, config) for w in weeks_in(start, end)])
    scores = score_risk(inputs, config)
    rows = warehouse.write("risk_score", scores, window=Window("week_start", start, end))
    latest = scores.filter(pl.col("week_start") == scores["week_start"].max()) if rows else scores
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "grades_latest_week": dict(sorted(latest.group_by("grade").len().rows())) if rows else {},
        "dominant_risk_latest_week": dict(sorted(latest.group_by("dominant_risk").len().rows())) if rows else {},
        "config_file": os.getenv(CONFIG_ENV) or "defaults",
        "config_overrides": dg.MetadataValue.json(config.overrides()),
    })


def actions_for_week(warehouse: Warehouse, week: date, config: RiskConfig) -> pl.DataFrame:
    """Fresh proposals for ``week`` merged with what planners already did about that week's actions."""
    risk = warehouse.query("select * from risk_score where week_start = $w", {"w": week})
    if risk.is_empty():
        raise dg.Failure(f"no risk scores for {week}: materialise risk_score for {week} first")
    # build_actions counts plan weeks from the risk week, but the plan of W starts the week after:
    # shifting it back one week makes "the next N plan weeks" mean exactly that.
    plan = warehouse.query(
        "select product_id, week_start, production_qty, shortage_qty "
        "from production_plan where plan_week = $w", {"w": week}
    ) if warehouse.table_exists("production_plan") else pl.DataFrame()
    if plan.is_empty():
        plan = pl.DataFrame(schema={"product_id": pl.String, "week_start": pl.Date,
                                    "production_qty": pl.Float64, "shortage_qty": pl.Float64})
    purchases = warehouse.query(
        "select * from purchase_recommendation where plan_week = $w",
        {"w": week}) if warehouse.table_exists("purchase_recommendation") else pl.DataFrame()
    if purchases.is_empty():
        purchases = pl.DataFrame(schema={"product_id": pl.String, "recommended_qty": pl.Float64,
                                         "order_by_date": pl.Date, "days_late": pl.Int64})
    elif "days_late" not in purchases.columns:  # stored before days_late existed
        purchases = purchases.with_columns(
            (pl.lit(as_of(week)) - pl.col("order_by_date").cast(pl.Date)).dt.total_days().clip(lower_bound=0).alias("days_late"))
    purchases = purchases.select("product_id", "recommended_qty", pl.col("order_by_date").cast(pl.Date), "days_late")
    # Orders already overdue are the most urgent: they count in the risk week itself.
    purchases = purchases.with_columns(
        pl.max_horizontal(pl.col("order_by_date").cast(pl.Date).dt.truncate("1w"), pl.lit(week)).alias("week_start"))
    bom = warehouse.query("select parent_product_id, component_product_id, qty_per, scrap_rate from bom")
    material_of = material_links(bom, risk["product_id"].to_list()).select("product_id", "material_id")
    plan = plan.with_columns(pl.col("week_start").cast(pl.Date) - timedelta(days=7))
    fresh = queue_from([build_actions(risk, plan, purchases, config, material_of=material_of),
                        analytics_actions(warehouse, week, risk, config)])  # + anomaly alerts, account reviews
    previous = warehouse.query("select * from action_queue where week_start = $w", {"w": week}) \
        if warehouse.table_exists("action_queue") else pl.DataFrame()
    if fresh.is_empty() and previous.height:
        return previous.filter(pl.col("status") != "open").select(fresh.columns)
    return merge_action_status(fresh, previous if previous.height else None)


@dg.asset(
    group_name=GROUP,
    partitions_def=decision_weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["risk_score", "production_plan", "purchase_recommendation", "bom", "demand_anomaly"],
    metadata={"partition_expr": "week_start"},
    kinds={"polars"},
    pool=WAREHOUSE_POOL,
    description="Concrete proposals for goods graded C or worse in week W (expedite / cut production, "
    "expedite purchases, alternative supplier, margin review, safety stock, customer concentration), with "
    "quantities from the plan and purchase recommendations of W. action_id is deterministic; a re-run "
    "keeps every status planners set and never duplicates an action.",
)
def action_queue(context: dg.AssetExecutionContext, warehouse: Warehouse, config: RiskConfig) -> dg.MaterializeResult:
    start, end = window_dates(context)
    config = load_risk_config(config)
    actions = pl.concat([actions_for_week(warehouse, w, config) for w in weeks_in(start, end)],
                        how="vertical_relaxed")
    rows = warehouse.write("action_queue", actions, window=Window("week_start", start, end))
    every_week = warehouse.query("select status from action_queue")
    acted = action_kpis(every_week, by=())["acted_share"][0] if every_week.height else None
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "by_priority": dict(sorted(actions.group_by("priority").len().rows())) if rows else {},
        "by_type": dict(sorted(actions.group_by("action_type").len().rows())) if rows else {},
        "acted_share": float(acted) if acted is not None else None,
        "config_overrides": dg.MetadataValue.json(config.overrides()),
    })


@dg.asset(
    group_name=GROUP,
    deps=["risk_score", "daily_inventory_estimated", "daily_order", "daily_revenue"],
    kinds={"polars"},
    pool=WAREHOUSE_POOL,
    description="Backtest of every stored risk_score week whose 4-week outcome window has passed: precision and "
    "recall of 'C or worse, dominant risk r' against the stock-outs, excess stock and late deliveries that "
    "followed (risk/backtest.py). One row per risk type.",
)
def risk_backtest(context: dg.AssetExecutionContext, warehouse: Warehouse, config: RiskConfig) -> dg.MaterializeResult:
    config = load_risk_config(config)
    risk = warehouse.query("select product_id, week_start, grade, dominant_risk from risk_score")
    last = warehouse.query("select max(date) as d from daily_inventory_estimated")["d"][0]
    horizon = timedelta(days=7 + 7 * OUTCOME_WEEKS)
    weeks = sorted(w for w in risk["week_start"].unique().to_list() if last and w + horizon <= last + timedelta(days=1))
    if not weeks:
        return dg.MaterializeResult(metadata={"dagster/row_count": 0, "weeks_scored": 0})
    span = {"start": weeks[0], "end": weeks[-1] + horizon}
    stock = warehouse.query("select item_id as product_id, date, closing_qty from daily_inventory_estimated "
                            "where date >= $start and date < $end", span)
    orders = warehouse.query("select order_id, product_id, order_date, order_qty, requested_delivery_date from daily_order "
                             "where requested_delivery_date >= $start or order_date >= $start", {"start": span["start"]})
    shipments = warehouse.query("select order_id, revenue_date, shipped_qty from daily_revenue where revenue_date >= $start",
                                {"start": span["start"]})
    events = realised_events(weeks, stock, orders, shipments, config)
    table = score_backtest(risk.filter(pl.col("week_start").is_in(weeks)), events, config)
    rows = warehouse.write("risk_backtest", table.with_columns(weeks_scored=pl.lit(len(weeks))))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows, "weeks_scored": len(weeks),
        "table": dg.MetadataValue.md("| risk | flagged | events | hits | precision | recall |\n|---|---:|---:|---:|---:|---:|\n" + "\n".join(
            f"| {r['risk_type']} | {r['flagged']} | {r['events']} | {r['hits']} | {r['precision'] or 0:.2f} | {r['recall'] or 0:.2f} |"
            for r in table.iter_rows(named=True))),
        "config_overrides": dg.MetadataValue.json(config.overrides()),
    })
