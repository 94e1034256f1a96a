"""Everything the weekly report shows for one ISO week, read from the warehouse as of that week.

Each reader returns a frame that may be empty: the report then shows its section with a note, so
a week without a plan, a fresh install or a missing table never breaks the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from dsop_assets.external.point_in_time import krw_rate_as_of
from dsop_assets.forecast.accuracy import core_groups
from dsop_assets.forecast.evaluation import SYSTEM_MODEL
from dsop_assets.planner.action_status import TABLE as STATUS_TABLE
from dsop_assets.planner.action_status import current_status
from dsop_assets.planner.sources import OptionalFrame, dsop_policy, read_optional
from dsop_resources import Warehouse

TOP_PRODUCTS, TOP_GROUPS = 6, 3
HISTORY_WEEKS, FAN_WEEKS = 26, 8
HEATMAP_PRODUCTS = 25
RISK_TYPES = ("stockout", "excess", "delivery", "margin")
PRIORITY_ORDER = ("Critical", "High", "Medium", "Low")
MAPE_TARGET = (0.10, 0.15)  # founding document: MAPE 10-15 % on core products
SYNC_TARGET = 0.99


@dataclass
class WeekData:
    week: date
    kpis: dict[str, object] = field(default_factory=dict)
    bands: list[dict] = field(default_factory=list)  # {title, history, fan, actual}
    risk: pl.DataFrame = field(default_factory=pl.DataFrame)
    actions: pl.DataFrame = field(default_factory=pl.DataFrame)
    plan: pl.DataFrame = field(default_factory=pl.DataFrame)
    lines: pl.DataFrame = field(default_factory=pl.DataFrame)
    purchases: pl.DataFrame = field(default_factory=pl.DataFrame)
    optional: dict[str, OptionalFrame] = field(default_factory=dict)

    @property
    def published(self) -> date:
        """The Monday after the week: when its run publishes the report (purchases due before are late)."""
        return self.week + timedelta(days=7)


def _query(warehouse: Warehouse, table: str, sql: str, params: dict) -> pl.DataFrame:
    return warehouse.query(sql, params) if warehouse.table_exists(table) else pl.DataFrame()


def gather(warehouse: Warehouse, week: date) -> WeekData:
    data = WeekData(week)
    sunday = week + timedelta(days=6)
    products = _query(warehouse, "product_master", "select product_id, product_name, product_group, product_type, "
                      "unit_cost, currency, hours_per_unit from product_master", {})
    data.optional = {name: read_optional(warehouse, name, (week, week)) for name in
                     ("customer_demand_alert", "demand_anomaly", "customer_churn_risk")}
    data.optional["decision_replay"] = read_optional(warehouse, "decision_replay", (week, week))
    data.kpis = kpis(warehouse, week, sunday, products, data.optional["decision_replay"])
    data.bands = bands(warehouse, week, products)
    data.risk = risk(warehouse, week)
    data.actions = actions(warehouse, week, sunday)
    data.plan = _query(warehouse, "production_plan", "select line_id, product_id, week_start, production_qty, "
                       "line_hours, shortage_qty from production_plan where plan_week = $w and production_qty > 0",
                       {"w": week})
    data.lines = _query(warehouse, "production_plan_line", "select line_id, week_start, utilisation, overtime_hours "
                        "from production_plan_line where plan_week = $w", {"w": week})
    purchases = _query(warehouse, "purchase_recommendation", "select product_id, supplier_id, order_by_date, need_date, "
                       "recommended_qty, unit_cost, lead_time_p90_days, reason from purchase_recommendation "
                       "where plan_week = $w and recommended_qty > 0 order by order_by_date, product_id", {"w": week})
    if purchases.height:
        purchases = purchases.with_columns((pl.col("order_by_date") < data.published).alias("late"))
    data.purchases = purchases
    return data


def kpis(warehouse: Warehouse, week: date, sunday: date, products: pl.DataFrame, replay: OptionalFrame) -> dict:
    out: dict[str, object] = {"replay_available": replay.available, "replay_note": replay.note}
    mine = dsop_policy(replay.frame)
    out["fill_rate"] = float(mine["fill_rate"].mean()) if mine.height else None
    summary = _query(warehouse, "weekly_product_summary", "select sum(order_qty) as ordered, sum(shipped_qty) as shipped "
                     "from weekly_product_summary where week_start = $w", {"w": week})
    ordered = summary["ordered"][0] if summary.height else None
    out["shipped_vs_ordered"] = float(summary["shipped"][0] / ordered) if ordered else None
    stock = _query(warehouse, "daily_inventory_estimated", "select item_id as product_id, closing_qty from "
                   "daily_inventory_estimated where date = $d", {"d": sunday})
    out["stock_value_krw"] = None
    if stock.height and products.height:
        rates = krw_rate_as_of(warehouse.query("select * from exchange_rate where rate_date <= $d", {"d": sunday}),
                               [sunday]) if warehouse.table_exists("exchange_rate") else pl.DataFrame(
            schema={"currency": pl.String, "krw_per_unit": pl.Float64})
        valued = stock.join(products, on="product_id").join(rates.select("currency", "krw_per_unit"), on="currency",
                                                              how="left").with_columns(
            pl.when(pl.col("currency") == "KRW").then(1.0).otherwise("krw_per_unit").alias("krw"))
        out["stock_value_krw"] = float((valued["closing_qty"].clip(lower_bound=0) * valued["unit_cost"]
                                        * valued["krw"]).sum())
        out["stock_value_unpriced"] = int(valued["krw"].null_count())
    out.update(_accuracy(warehouse, week, products))
    health = _query(warehouse, "pipeline_health", "select status, started_at from pipeline_health", {})
    after = health.filter((pl.col("started_at").cast(pl.Date) >= week + timedelta(days=7))
                          & (pl.col("started_at").cast(pl.Date) < week + timedelta(days=14))) if health.height else health
    scope = "week" if after.height else "all"
    used = after if after.height else health
    out["sync_scope"] = scope
    out["sync_runs"] = used.height
    out["sync_success"] = float((used["status"] == "SUCCESS").mean()) if used.height else None
    out["sync_target"] = SYNC_TARGET
    return out


def _accuracy(warehouse: Warehouse, week: date, products: pl.DataFrame) -> dict:
    """MAPE of the served 1-week-ahead forecast on the core products, over the 13 weeks to ``week``
    (weeks with zero demand are on the grid but MAPE can only use the others; WAPE uses all)."""
    out: dict[str, object] = {"mape_target": MAPE_TARGET, "mape_core": None, "wape_core": None}
    if not warehouse.table_exists("forecast_result") or products.is_empty():
        return out
    first = week - timedelta(weeks=12)
    forecast = warehouse.query(
        "select product_id, target_start as week_start, p50 from forecast_result where cadence = 'weekly' "
        "and level = 'product' and horizon = 1 and target_start between $a and $b", {"a": first, "b": week})
    actual = warehouse.query("select product_id, week_start, order_qty from weekly_product_summary "
                             "where week_start between $a and $b", {"a": first, "b": week})
    if forecast.is_empty():
        return out
    groups = core_groups(actual, products)
    core = products.filter(pl.col("product_group").is_in(groups))["product_id"]
    scored = forecast.filter(pl.col("product_id").is_in(core.implode())).join(
        actual, on=["product_id", "week_start"], how="left").with_columns(pl.col("order_qty").fill_null(0.0))
    error = (scored["p50"] - scored["order_qty"]).abs()
    positive = scored["order_qty"] > 0
    out["mape_core"] = float((error.filter(positive) / scored["order_qty"].filter(positive)).mean()) \
        if positive.any() else None
    out["wape_core"] = float(error.sum() / scored["order_qty"].sum()) if scored["order_qty"].sum() else None
    out["core_groups"] = groups
    out["accuracy_model"] = SYSTEM_MODEL
    return out


def bands(warehouse: Warehouse, week: date, products: pl.DataFrame) -> list[dict]:
    """Past 1-week-ahead bands, the fan made at ``week`` and actual orders: top products, then groups."""
    if not warehouse.table_exists("forecast_result") or not warehouse.table_exists("weekly_product_summary"):
        return []
    first = week - timedelta(weeks=HISTORY_WEEKS - 1)
    actual = warehouse.query("select product_id, week_start, order_qty, order_amount_krw from weekly_product_summary "
                             "where week_start between $a and $b", {"a": first, "b": week})
    forecast = warehouse.query(
        "select product_id, origin_date, target_start, horizon, p10, p50, p90 from forecast_result "
        "where cadence = 'weekly' and level = 'product' and ((horizon = 1 and target_start between $a and $b) "
        "or (origin_date = $w and horizon <= $h))", {"a": first, "b": week, "w": week, "h": FAN_WEEKS})
    if forecast.is_empty() or actual.is_empty():
        return []
    forecast = forecast.unique(["product_id", "origin_date", "target_start"], keep="first", maintain_order=True)
    # Dense grid: a week without orders is a zero, not a gap.
    grid = pl.DataFrame({"week_start": pl.date_range(first, week, "1w", eager=True)})
    recent = actual.filter(pl.col("week_start") > week - timedelta(weeks=13))
    ranked = recent.group_by("product_id").agg(pl.col("order_amount_krw").sum()).join(
        forecast.select("product_id").unique(), on="product_id").sort(["order_amount_krw", "product_id"],
                                                                         descending=[True, False])
    out = []
    for pid in ranked["product_id"].head(TOP_PRODUCTS):
        out.append(_series(pid, [pid], forecast, actual, grid, week))
    if products.height:
        groups = core_groups(actual.select("product_id", "order_qty"), products)[:TOP_GROUPS]
        for group in groups:
            members = products.filter(pl.col("product_group") == group)["product_id"].to_list()
            out.append(_series(group, members, forecast, actual, grid, week, group=True))
    return out


def _series(title, members, forecast, actual, grid, week, group=False) -> dict:
    f = forecast.filter(pl.col("product_id").is_in(members))
    a = actual.filter(pl.col("product_id").is_in(members)).group_by("week_start").agg(pl.col("order_qty").sum())
    summed = [pl.col(c).sum() for c in ("p10", "p50", "p90")]
    history = f.filter((pl.col("horizon") == 1) & (pl.col("target_start") <= week)).group_by("target_start").agg(summed)
    fan = f.filter(pl.col("origin_date") == week).group_by("target_start").agg(summed)
    return {"title": title, "group": group, "history": history.sort("target_start"), "fan": fan.sort("target_start"),
            "actual": grid.join(a, on="week_start", how="left").fill_null(0.0).sort("week_start")}


def risk(warehouse: Warehouse, week: date) -> pl.DataFrame:
    """Every product's scores, riskiest first, with last week's grade beside them (the heat map
    shows the first ``HEATMAP_PRODUCTS``; grade changes are listed for all)."""
    now = _query(warehouse, "risk_score", "select product_id, grade, total_score, dominant_risk, stockout_score, "
                 "excess_score, delivery_score, margin_score from risk_score where week_start = $w", {"w": week})
    if now.is_empty():
        return now
    before = warehouse.query("select product_id, grade as previous_grade from risk_score where week_start = $w",
                             {"w": week - timedelta(days=7)})
    return now.join(before, on="product_id", how="left").sort(
        ["total_score", "product_id"], descending=[True, False])


def actions(warehouse: Warehouse, week: date, sunday: date) -> pl.DataFrame:
    queue = _query(warehouse, "action_queue", "select action_id, product_id, material_id, action_label, priority, "
                   "suggested_qty, reason from action_queue where week_start = $w", {"w": week})
    if queue.is_empty():
        return queue
    updates = warehouse.read_table(STATUS_TABLE)
    status = current_status(updates, on=sunday + timedelta(days=7)) if updates.height else current_status(updates)
    rank = {p: i for i, p in enumerate(PRIORITY_ORDER)}
    return queue.join(status.select("action_id", "status", "snoozed_until"), on="action_id", how="left").with_columns(
        pl.col("status").fill_null("open"),
        pl.col("priority").replace_strict(rank, default=len(rank)).alias("_rank"),
    ).sort("_rank", "product_id", "action_label").drop("_rank")
