"""Action queue: concrete proposals for products graded C or worse, with quantities and reasons.

Rules (thresholds in ``RiskConfig``):
* dominant stockout -> ``expedite_production``: the production plan's output for the product over
  the next ``action_plan_weeks`` weeks (pull it forward / add to it); if the plan has none, the
  stock gap ``P90 lead-time demand x safety_ratio - on_hand`` (source 'risk'). Plus one
  ``expedite_purchase`` per material of the product (``material_of``) with a positive purchase
  recommendation in that window.
* dominant excess -> ``cut_production``: on hand above ``excess_threshold_days`` of P50 cover.
* dominant delivery -> ``alternative_supplier``: open order quantity stock cannot cover.
* dominant margin -> ``review_margin`` (price / cost / hedge review; no quantity). Not in the
  original rule list, but without it a margin-driven C..F product would get no proposal at all.
* volatility >= ``volatility_threshold`` -> ``raise_safety_stock`` by the P90-P50 band over the lead
  time; top customer share >= ``concentration_share`` -> ``customer_concentration_alert``.
* every good the production plan backlogs -> ``expedite_production`` (whatever its grade), with the
  peak backlog and ``days_late`` (7 x the weeks it stays backlogged);
* every purchase recommendation whose order-by date has passed -> ``expedite_purchase`` of that
  material with its ``days_late``;
* no ``cut_production`` for a good the plan still makes in the next ``action_plan_weeks`` weeks.
Priority follows the situation: Critical when an uncovered firm order is due inside the lead time,
stock runs out inside it at mean demand, the plan backlogs inside it, or a purchase is already
late; otherwise by grade (F Critical, D High, C Medium; plan and purchase expedites of a good
graded better than C: High).

``action_id`` is the first 16 hex digits of SHA-1 over ``week_start|product_id|action_type``
(plus ``|material_id`` for purchase actions, which may be several per product): stable across
runs, Python and Polars versions, so a re-run of a week proposes the same ids.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import polars as pl

from dsop_assets.risk.config import RiskConfig

ACTION_COLUMNS = [
    "action_id", "week_start", "product_id", "material_id", "action_type", "action_label", "priority",
    "suggested_qty", "suggested_qty_source", "days_late", "reason", "status", "created_at",
]  # fmt: skip
ACTION_LABELS = {
    "expedite_production": "expedite / increase production",
    "expedite_purchase": "expedite purchase",
    "cut_production": "cut production / hold orders",
    "alternative_supplier": "alternative supplier / expedited receipt",
    "review_margin": "review price / cost / hedge",
    "raise_safety_stock": "raise safety stock / respond in stages",
    "customer_concentration_alert": "alert: depends on one customer",
}
PRIORITY = {"F": "Critical", "D": "High", "C": "Medium", "B": "Low", "A": "Low"}
STATUSES = ("open", "in_progress", "done", "dismissed")
_ACTED = ("in_progress", "done", "dismissed")


def _fmt(expr: pl.Expr, decimals: int = 0) -> pl.Expr:
    rounded = expr.round(decimals)
    if decimals == 0:
        rounded = pl.when(rounded.is_finite()).then(rounded.cast(pl.Int64, strict=False))
    return rounded.cast(pl.String).fill_null("n/a")


def _window(frame: pl.DataFrame, risk_weeks: pl.DataFrame, weeks: int) -> pl.DataFrame:
    """Rows of ``frame`` in [risk week, risk week + weeks) per product, tagged with the risk week."""
    joined = frame.join(risk_weeks, on="product_id", how="inner")
    if "week_start" not in frame.columns:  # an undated recommendation applies to any risk week
        return joined
    return joined.filter(
        (pl.col("week_start") >= pl.col("risk_week"))
        & (pl.col("week_start") < pl.col("risk_week") + timedelta(days=7 * weeks))
    )


def _stockout(
    flagged: pl.DataFrame,
    plan: pl.DataFrame,
    purchases: pl.DataFrame,
    material_of: pl.DataFrame | None,
    config: RiskConfig,
) -> list[pl.DataFrame]:
    rows = flagged.filter(pl.col("dominant_risk") == "stockout")
    keys = rows.select("product_id", pl.col("week_start").alias("risk_week"))
    on_week = {"left_on": ["product_id", "week_start"], "right_on": ["product_id", "risk_week"]}
    plan = plan.select("product_id", pl.col("week_start").cast(pl.Date), "production_qty", "shortage_qty")
    planned = (
        _window(plan, keys, config.action_plan_weeks)
        .group_by("product_id", "risk_week")
        .agg(pl.col("production_qty").sum().alias("plan_qty"), pl.col("shortage_qty").max().alias("plan_shortage"))
    )
    gap = (pl.col("p90_leadtime_demand") * config.safety_ratio - pl.col("on_hand_qty")).clip(lower_bound=0.0)
    use_plan = pl.col("plan_qty").fill_null(0.0) > 0
    production = rows.join(planned, how="left", **on_week).with_columns(
        pl.lit("expedite_production").alias("action_type"),
        pl.when(use_plan).then(pl.col("plan_qty")).otherwise(gap).alias("suggested_qty"),
        pl.when(use_plan).then(pl.lit("production_plan")).otherwise(pl.lit("risk")).alias("suggested_qty_source"),
        pl.format(
            "Coverage {} of P90 lead-time demand {} x {} (on hand {}); plan makes {} in the next {} wk, peak backlog {}.",
            _fmt(pl.col("coverage_ratio"), 2), _fmt(pl.col("p90_leadtime_demand")), pl.lit(str(config.safety_ratio)),
            _fmt(pl.col("on_hand_qty")), _fmt(pl.col("plan_qty").fill_null(0.0)), pl.lit(str(config.action_plan_weeks)),
            _fmt(pl.col("plan_shortage").fill_null(0.0)),
        ).alias("reason"),
    )  # fmt: skip
    if material_of is None or material_of.height == 0 or purchases.height == 0:
        return [production]

    links = material_of.select(pl.col("product_id").cast(pl.String), pl.col("material_id").cast(pl.String))
    recs = purchases.rename({"product_id": "material_id"})
    if "week_start" in recs.columns:
        recs = recs.with_columns(pl.col("week_start").cast(pl.Date))
    recs = (
        _window(recs.join(links, on="material_id", how="inner"), keys, config.action_plan_weeks)
        .group_by("product_id", "risk_week", "material_id")
        .agg(pl.col("recommended_qty").sum())
        .filter(pl.col("recommended_qty") > 0)
    )
    purchase = rows.drop("material_id").join(recs, how="inner", **on_week).with_columns(
        pl.lit("expedite_purchase").alias("action_type"),
        pl.col("recommended_qty").alias("suggested_qty"),
        pl.lit("purchase_recommendation").alias("suggested_qty_source"),
        pl.format(
            "Coverage {} of P90 lead-time demand {}; expedite the recommended purchase of {} {}.",
            _fmt(pl.col("coverage_ratio"), 2), _fmt(pl.col("p90_leadtime_demand")),
            _fmt(pl.col("recommended_qty")), pl.col("material_id"),
        ).alias("reason"),
    )  # fmt: skip
    return [production, purchase]


def _rule_actions(flagged: pl.DataFrame, config: RiskConfig) -> list[pl.DataFrame]:
    """Actions whose quantity comes from the risk row itself."""
    excess_qty = (pl.col("on_hand_qty") - pl.col("demand_mean_weekly") / 7.0 * config.excess_threshold_days)
    band = (pl.col("demand_p90_weekly") - pl.col("demand_p50_weekly")).clip(lower_bound=0.0)
    rules = [
        (pl.col("dominant_risk") == "excess", "cut_production", excess_qty.clip(lower_bound=0.0), pl.format(
            "{} days of cover vs {}-day threshold; {} on hand above threshold cover.",
            _fmt(pl.col("days_of_cover")), pl.lit(f"{config.excess_threshold_days:g}"), _fmt(excess_qty))),
        (pl.col("dominant_risk") == "delivery", "alternative_supplier",
         pl.col("open_order_qty") * pl.col("uncovered_order_share"), pl.format(
            "P90 lead time {} d vs {} d to requested delivery; {} of {} open qty not covered by stock.",
            _fmt(pl.col("lead_time_p90_days")), _fmt(pl.col("days_to_delivery")),
            _fmt(pl.col("open_order_qty") * pl.col("uncovered_order_share")), _fmt(pl.col("open_order_qty")))),
        (pl.col("dominant_risk") == "margin", "review_margin", pl.lit(None, pl.Float64), pl.format(
            "Cost/price {} after cost and FX changes; margin {}% -> {}%.", _fmt(pl.col("margin_pressure"), 2),
            _fmt(pl.col("current_margin") * 100, 1), _fmt(pl.col("pressured_margin") * 100, 1))),
        (pl.col("volatility") >= config.volatility_threshold, "raise_safety_stock",
         band * pl.col("lead_time_weeks"), pl.format(
            "Demand volatility {} >= {}; P90-P50 band {}/wk over {} wk lead time.", _fmt(pl.col("volatility"), 2),
            pl.lit(str(config.volatility_threshold)), _fmt(band, 1), _fmt(pl.col("lead_time_weeks"), 1))),
        (pl.col("top_customer_share") >= config.concentration_share, "customer_concentration_alert",
         pl.lit(None, pl.Float64), pl.format(
            "Top customer takes {}% of orders (alert at {}%).", _fmt(pl.col("top_customer_share") * 100),
            pl.lit(f"{config.concentration_share * 100:g}"))),
    ]  # fmt: skip
    return [
        flagged.filter(cond.fill_null(False)).with_columns(
            pl.lit(kind).alias("action_type"),
            qty.cast(pl.Float64).alias("suggested_qty"),
            pl.lit("risk").alias("suggested_qty_source"),
            reason.alias("reason"),
        )
        for cond, kind, qty, reason in rules
    ]


def _plan_backlog(plan: pl.DataFrame, weeks: pl.DataFrame, risk: pl.DataFrame, config: RiskConfig) -> list[pl.DataFrame]:
    """One expedite per good the plan leaves in backlog, for each risk week (the plan is already
    shifted so its first week is the risk week)."""
    if plan.is_empty() or "shortage_qty" not in plan.columns:
        return []
    lead = config.production_lead_weeks
    late = plan.filter(pl.col("shortage_qty") > 1e-6).join(weeks.rename({"week_start": "risk_week"}), how="cross")
    late = late.filter(pl.col("week_start").cast(pl.Date) >= pl.col("risk_week")).group_by("product_id", "risk_week").agg(
        pl.col("shortage_qty").max().alias("suggested_qty"), (pl.len() * 7).alias("days_late"),
        pl.col("week_start").min().alias("first_late"))
    if late.is_empty():
        return []
    grades = risk.select("product_id", pl.col("week_start").alias("risk_week"), "grade")
    return [late.join(grades, on=["product_id", "risk_week"], how="left").select(
        pl.col("risk_week").alias("week_start"), "product_id", pl.lit(None, pl.String).alias("material_id"), "grade",
        ((pl.col("first_late").cast(pl.Date) - pl.col("risk_week")).dt.total_days() < lead * 7).alias("critical"),
        pl.lit("expedite_production").alias("action_type"), "suggested_qty",
        pl.lit("production_plan").alias("suggested_qty_source"), "days_late",
        pl.format("The plan leaves a backlog of up to {} from the week of {} for {} week(s); expedite or add "
                  "capacity.", _fmt(pl.col("suggested_qty")), pl.col("first_late"),
                  (pl.col("days_late") // 7).cast(pl.String)).alias("reason"))]


def _late_purchases(purchases: pl.DataFrame, weeks: pl.DataFrame) -> list[pl.DataFrame]:
    """One expedite per recommended purchase whose order-by date has already passed (``days_late`` > 0)."""
    if purchases.is_empty() or "days_late" not in purchases.columns:
        return []
    late = purchases.filter(pl.col("days_late") > 0)
    if late.is_empty():
        return []
    late = late.group_by("product_id").agg(pl.col("recommended_qty").sum(), pl.col("days_late").max(),
                                           pl.col("order_by_date").min())
    return [late.join(weeks, how="cross").select(
        "week_start", "product_id", pl.col("product_id").alias("material_id"), pl.lit(None, pl.String).alias("grade"),
        pl.lit(True).alias("critical"), pl.lit("expedite_purchase").alias("action_type"),
        pl.col("recommended_qty").alias("suggested_qty"), pl.lit("purchase_recommendation").alias("suggested_qty_source"),
        "days_late",
        pl.format("Order {} of {} by {} is already {} day(s) late: expedite with the supplier.",
                  _fmt(pl.col("recommended_qty")), pl.col("product_id"), pl.col("order_by_date"),
                  pl.col("days_late").cast(pl.String)).alias("reason"))]


def queue_from(sources: list[pl.DataFrame]) -> pl.DataFrame:
    """One action queue from action rows of several builders (risk/plan here, analytics later):
    every source gives ``ACTION_COLUMNS``; the first source wins an ``action_id`` proposed twice."""
    frames = [f.select(ACTION_COLUMNS) for f in sources if f.height]
    if not frames:
        return sources[0].select(ACTION_COLUMNS) if sources else pl.DataFrame(schema=dict.fromkeys(ACTION_COLUMNS))
    return pl.concat(frames, how="vertical_relaxed").unique("action_id", keep="first", maintain_order=True)


def action_id(week_start: object, product_id: str, action_type: str, material_id: str | None = None) -> str:
    key = f"{week_start}|{product_id}|{action_type}" + (f"|{material_id}" if material_id else "")
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def build_actions(
    risk: pl.DataFrame,
    plan: pl.DataFrame,
    purchases: pl.DataFrame,
    config: RiskConfig | None = None,
    material_of: pl.DataFrame | None = None,
    created_at: datetime | None = None,
) -> pl.DataFrame:
    """Proposals for every product graded ``action_min_grade`` or worse; ``ACTION_COLUMNS``.

    ``risk`` is ``score_risk`` output; ``plan`` has ``product_id, week_start, production_qty,
    shortage_qty``; ``purchases`` has ``product_id`` (the material), ``recommended_qty`` and
    optionally ``week_start``; ``material_of`` maps ``product_id`` (finished) to ``material_id``.
    """
    config = config or RiskConfig()
    # Naive UTC throughout, so stored and fresh timestamps coalesce without a time-zone clash.
    created_at = created_at or datetime.now(timezone.utc).replace(microsecond=0)
    if created_at.tzinfo is not None:
        created_at = created_at.astimezone(timezone.utc).replace(tzinfo=None)
    critical = (
        ((pl.col("uncovered_order_share") > 0) & (pl.col("delivery_gap_days") >= 0))
        | (pl.col("on_hand_qty") < pl.col("demand_mean_weekly") * pl.col("lead_time_weeks"))
    ).fill_null(False)
    flagged = risk.filter(pl.col("grade").is_in(config.action_grades)).with_columns(
        pl.lit(None, pl.String).alias("material_id"), critical.alias("critical"), pl.lit(None, pl.Int64).alias("days_late"))
    making = _window(plan.select("product_id", pl.col("week_start").cast(pl.Date), "production_qty"),
                     flagged.select("product_id", pl.col("week_start").alias("risk_week")), config.action_plan_weeks)
    making = making.filter(pl.col("production_qty") > 0).select("product_id", pl.col("risk_week").alias("week_start")).unique()
    rules = [r.join(making, on=["product_id", "week_start"], how="anti") if r.height and r["action_type"][0] == "cut_production"
             else r for r in _rule_actions(flagged, config)]
    weeks = risk.select("week_start").unique()
    backlog = _plan_backlog(plan, weeks, risk, config)
    parts = [*_stockout(flagged, plan, purchases, material_of, config), *backlog, *_late_purchases(purchases, weeks),
             *rules]
    keep = ["week_start", "product_id", "material_id", "grade", "critical", "action_type", "suggested_qty",
            "suggested_qty_source", "days_late", "reason"]  # fmt: skip
    actions = pl.concat([p.with_columns(pl.col("days_late").cast(pl.Int64)).select(keep) for p in parts if p.height],
                        how="vertical_relaxed") if any(p.height for p in parts) else pl.DataFrame(
        schema={"week_start": pl.Date, "product_id": pl.String, "material_id": pl.String, "grade": pl.String,
                "critical": pl.Boolean, "action_type": pl.String, "suggested_qty": pl.Float64,
                "suggested_qty_source": pl.String, "days_late": pl.Int64, "reason": pl.String})
    if backlog:  # a stockout expedite of a backlogged good keeps its quantity but gets the plan's lateness
        late = backlog[0].select("week_start", "product_id", pl.lit("expedite_production").alias("action_type"),
                                 pl.col("days_late").alias("_late"), pl.col("critical").alias("_crit"))
        actions = actions.join(late, on=["week_start", "product_id", "action_type"], how="left").with_columns(
            pl.coalesce("days_late", "_late").cast(pl.Int64).alias("days_late"),
            (pl.col("critical") | pl.col("_crit").fill_null(False)).alias("critical")).drop("_late", "_crit")
    # Hundreds of rows at most: a stable cryptographic hash beats Polars' version-dependent one.
    ids = [action_id(*k) for k in actions.select("week_start", "product_id", "action_type", "material_id").rows()]
    return (
        actions.with_columns(
            pl.Series("action_id", ids, dtype=pl.String),
            pl.col("action_type").replace_strict(ACTION_LABELS).alias("action_label"),
            # Plan and purchase expedites exist whatever the grade: outside the graded ones they are High.
            pl.when(pl.col("critical")).then(pl.lit("Critical"))
            .when(pl.col("grade").is_in(config.action_grades)).then(pl.col("grade").replace_strict(PRIORITY, default="High"))
            .otherwise(pl.lit("High")).alias("priority"),
            pl.lit("open").alias("status"),
            pl.lit(created_at).alias("created_at"),
        )
        .unique("action_id", keep="first", maintain_order=True)
        .select(ACTION_COLUMNS)
        .sort("week_start", "product_id", "action_type", "material_id", nulls_last=False)
    )


def merge_action_status(new: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame:
    """``new`` with the status and created_at of actions already recorded under the same id.

    Previous actions of the same weeks that the re-run no longer proposes are kept only if someone
    acted on them (status not 'open'), so the KPI history survives while stale open ones drop out.
    The caller replaces the weeks present in ``new`` with the result.
    """
    if previous is None or previous.height == 0:
        return new
    previous = previous.with_columns(pl.lit(None, new.schema[c]).alias(c) for c in ACTION_COLUMNS if c not in previous.columns)
    prev = previous.select("action_id", pl.col("status").alias("_prev_status"), pl.col("created_at").alias("_prev_at"))
    merged = new.join(prev.unique("action_id"), on="action_id", how="left", maintain_order="left").with_columns(
        pl.coalesce("_prev_status", "status").alias("status"),
        pl.coalesce("_prev_at", "created_at").alias("created_at"),
    )
    kept = previous.filter(
        pl.col("week_start").is_in(new["week_start"].unique().implode())
        & ~pl.col("action_id").is_in(new["action_id"].implode())
        & (pl.col("status") != "open")
    )
    return pl.concat([merged.select(ACTION_COLUMNS), kept.select(ACTION_COLUMNS)], how="vertical_relaxed")


def action_kpis(actions: pl.DataFrame, by: tuple[str, ...] = ("week_start",)) -> pl.DataFrame:
    """Counts per status and ``acted_share`` (status other than 'open') per group; by=() -> one row."""
    counts = [(pl.col("status") == s).sum().cast(pl.Int64).alias(f"n_{s}") for s in STATUSES]
    aggs = [
        pl.len().cast(pl.Int64).alias("n_actions"),
        *counts,
        pl.col("status").is_in(_ACTED).mean().alias("acted_share"),
        (pl.col("status") == "done").mean().alias("done_share"),
    ]
    if not by:
        return actions.select(aggs)
    return actions.group_by(list(by)).agg(aggs).sort(list(by))
