"""The production plan and purchase recommendations as weekly assets: the plan as of each ISO week.

Partition W is the plan a planner makes on W's Sunday: demand from the forecast made at origin W
(weeks W+7 onwards) plus the open order book, stock as estimated that Sunday. A plan that cannot be
made never replaces the last good one: the diagnosis is written instead and the run says so.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import dagster as dg
import polars as pl

from dsop_assets.decision_inputs import (
    as_of, firm_demand, in_krw, krw_rates, on_hand_at, open_orders, open_purchase_orders,
    production_lines, products_in_krw, weekly_forecast,
)
from dsop_assets.decision_inputs import OPEN_ORDER_LOOKBACK_DAYS
from dsop_assets.lineage import history_until_partition, weeks_covering, window
from dsop_assets.partitions import decision_weekly_partitions, weeks_in, window_dates
from dsop_assets.planning.config import PlanConfig, PurchaseConfig
from dsop_assets.planning.diagnosis import DIAGNOSIS_SCHEMA, PlanInfeasible, diagnose
from dsop_assets.planning.plan_data import prepare_plan_data
from dsop_assets.planning.purchasing import recommend_purchases
from dsop_assets.planning.table_checks import (
    DIAGNOSIS_CHECK, HOURS_TOLERANCE, LINE_CAPACITY_CHECK, lines_over_capacity, unexplained_weeks,
)
from dsop_resources import WAREHOUSE_POOL, Warehouse, Window

# The gate's check name, spelled here (a test keeps it equal to gate.PLAN_GATE_CHECK): gate.py
# imports the Pyomo model, ~1 s at every definitions load, so it is imported where a plan is judged.
PLAN_GATE_CHECK = "production_plan_gate"

if TYPE_CHECKING:  # pyomo (~1.5 s) loads only when a plan is solved
    from dsop_assets.planning.production_model import PlanResult

GROUP = "planning"
PLAN_TABLE, DIAGNOSIS_TABLE, LINE_TABLE = "production_plan", "production_plan_diagnosis", "production_plan_line"
_SOLVER_FIELDS = ("status", "termination_condition", "objective", "mip_gap", "gap_any_timing", "solve_seconds", "build_seconds",
                  "n_variables", "n_integer", "time_capped", "avoidable_backlog_qty",
                  "avoidable_backlog_products")


@dataclass
class PlanInputs:
    week: date
    demand: pl.DataFrame  # product_id, week_start, p10, p50, p90, firm_qty
    products: pl.DataFrame
    lines: pl.DataFrame
    opening: pl.DataFrame  # product_id, on_hand_qty
    # In-house sub-assemblies of the planned goods follow the goods' planned batches (multi_level.py).
    bom: pl.DataFrame | None = None


@dataclass
class PlanOutcome:
    week: date
    result: "PlanResult | None"
    failure: str | None
    diagnosis: pl.DataFrame
    gate: list[str] | None = None  # reasons the plan failed the gate; empty = passed

    @property
    def usable(self) -> bool:
        return self.result is not None and not self.gate


def load_plan_inputs(warehouse: Warehouse, week: date, config: PlanConfig) -> PlanInputs:
    """Demand, masters and opening stock for plan week ``week``; raises ``dg.Failure`` when the
    forecast or the stock estimate of that week has not been materialised yet."""
    day = as_of(week)
    forecast = weekly_forecast(warehouse, week, config.horizon_weeks)
    if forecast.is_empty():
        raise dg.Failure(f"no weekly product forecast with origin {week}: materialise forecast_weekly for {week} first")
    opening = on_hand_at(warehouse, day)
    if opening.is_empty():
        raise dg.Failure(f"no stock estimate for {day}: materialise daily_inventory_estimated for {week} first")
    products = products_in_krw(warehouse, day)
    bom = warehouse.query("select parent_product_id, component_product_id, qty_per, scrap_rate from bom")
    return build_plan_inputs(week, forecast, open_orders(warehouse, day), opening, products, bom,
                             production_lines(warehouse, products, day), config)


def build_plan_inputs(week: date, forecast: pl.DataFrame, orders: pl.DataFrame, opening: pl.DataFrame,
                      products: pl.DataFrame, bom: pl.DataFrame, lines: pl.DataFrame, config: PlanConfig) -> PlanInputs:
    """The plan's inputs from frames already read: the same path for the weekly asset and the
    decision replay (which passes its simulated stock and order book instead of the ERP's)."""
    first = week + timedelta(weeks=1)
    firm = firm_demand(orders, first, config.horizon_weeks)
    goods = (
        forecast.select("product_id", "week_start", "p10", "p50", "p90")
        .join(firm, on=["product_id", "week_start"], how="full", coalesce=True)
        .with_columns(pl.col("p10", "p50", "p90", "firm_qty").fill_null(0.0))
    )
    # Sub-assemblies get rows without demand of their own: the plan derives their need from the
    # goods' planned batches, not from the goods' demand (multi_level.py).
    in_house = products.filter((pl.col("product_type") != "finished_good") & pl.col("production_line").is_not_null())
    made_here, planned, found = set(in_house["product_id"].to_list()), set(goods["product_id"].to_list()), set()
    while True:  # every level of in-house components below the planned goods
        below = set(bom.filter(pl.col("parent_product_id").is_in(list(planned | found)))["component_product_id"].to_list())
        new = (below & made_here) - found - planned
        if not new:
            break
        found |= new
    subs = pl.DataFrame({"product_id": sorted(found)}, schema={"product_id": pl.String}).join(
        goods.select("week_start").unique(), how="cross").with_columns(
        pl.lit(0.0).alias("p10"), pl.lit(0.0).alias("p50"), pl.lit(0.0).alias("p90"), pl.lit(0.0).alias("firm_qty"))
    subs = subs.join(goods.select("product_id", "week_start"), on=["product_id", "week_start"], how="anti")
    demand = pl.concat([goods, subs.select(goods.columns)], how="vertical_relaxed").sort("product_id", "week_start")
    return PlanInputs(week, demand, products, lines, opening, bom)


def solve_plan(inputs: PlanInputs, config: PlanConfig) -> PlanOutcome:
    """``plan_production`` with every failure turned into a diagnosis instead of an exception."""
    from dsop_assets.planning.gate import gate_failures
    from dsop_assets.planning.production_model import plan_production

    try:
        result = plan_production(inputs.demand, inputs.products, inputs.lines, inputs.opening, config, inputs.bom)
    except PlanInfeasible as exc:
        return PlanOutcome(inputs.week, None, exc.message, exc.diagnosis)
    except Exception as exc:  # noqa: BLE001 - a solver crash must keep the old plan, like infeasibility
        reason = f"{type(exc).__name__}: {exc}"
        try:  # the capacity arithmetic needs no solver, so it can still say which line is short
            found = diagnose(prepare_plan_data(inputs.demand, inputs.products, inputs.lines, inputs.opening, config),
                             config, reason)
            return PlanOutcome(inputs.week, None, found.message, found.diagnosis)
        except Exception:  # noqa: BLE001 - e.g. the inputs themselves were the problem
            return PlanOutcome(inputs.week, None, f"production plan failed ({reason})",
                               pl.DataFrame(schema=DIAGNOSIS_SCHEMA))
    return PlanOutcome(inputs.week, result, None, pl.DataFrame(schema=DIAGNOSIS_SCHEMA),
                       gate_failures(result, None, config))


def plan_rows(inputs: PlanInputs, result: "PlanResult") -> pl.DataFrame:
    """The solver's plan with the demand it saw, product kind, and the stock-balance residual.

    Backlog semantics: start + made - demand_used = end - (backlog_t - backlog_{t-1}), with the
    backlog carried in equal to any negative opening stock, so the residual is zero up to rounding.
    """
    opening = dict(inputs.opening.select("product_id", "on_hand_qty").iter_rows())
    carried_in = pl.col("product_id").replace_strict(opening, default=0.0, return_dtype=pl.Float64)
    previous = pl.col("shortage_qty").shift(1).over("product_id")
    kinds = inputs.products.select("product_id", pl.col("product_type").alias("product_kind"))
    return (
        result.plan.rename({"demand_p50": "demand_used"})
        .join(inputs.demand.rename({"p10": "forecast_p10", "p50": "forecast_p50", "p90": "forecast_p90"}),
              on=["product_id", "week_start"], how="left")
        .join(kinds, on="product_id", how="left")
        .with_columns(pl.col("forecast_p10", "forecast_p50", "forecast_p90", "firm_qty").fill_null(0.0))
        .sort("product_id", "week_start")
        .with_columns(previous.fill_null((-carried_in).clip(lower_bound=0.0)).alias("_backlog_in"))
        .with_columns(
            (pl.col("start_inventory") + pl.col("production_qty") - pl.col("demand_used") - pl.col("end_inventory")
             + pl.col("shortage_qty") - pl.col("_backlog_in")).alias("balance_residual"),
            pl.lit(inputs.week).alias("plan_week"),
        )
        .drop("_backlog_in")
    )


def record_plan(warehouse: Warehouse, inputs: PlanInputs, outcome: PlanOutcome, log) -> int:
    """Writes the plan of one week, or on failure only its diagnosis (the previous plan stays)."""
    week = Window("plan_week", outcome.week, outcome.week + timedelta(days=7))
    if not outcome.usable:
        failure = outcome.failure if outcome.result is None else "plan gate failed: " + "; ".join(outcome.gate)
        log.error(f"production plan for {outcome.week} not replaced: {failure}")
        diagnosis = outcome.diagnosis
        if diagnosis.is_empty():  # no short line found: one row still records that and why the plan failed
            basis = "none found" if outcome.result is None else "plan gate"
            diagnosis = pl.DataFrame([{"basis": basis}], schema=DIAGNOSIS_SCHEMA)
        diagnosis = diagnosis.with_columns(plan_week=pl.lit(outcome.week), message=pl.lit(failure))
        warehouse.write(DIAGNOSIS_TABLE, diagnosis.select("plan_week", *DIAGNOSIS_SCHEMA, "message"), window=week)
        return 0
    rows = warehouse.write(PLAN_TABLE, plan_rows(inputs, outcome.result), window=week)
    warehouse.write(LINE_TABLE, outcome.result.lines.with_columns(plan_week=pl.lit(outcome.week)), window=week)
    # A stale diagnosis would contradict the plan; firm orders the lines cannot make on time are
    # the one thing a usable plan still reports here (PlanResult.late_firm).
    late = outcome.result.late_firm if outcome.result.late_firm is not None else pl.DataFrame(schema=DIAGNOSIS_SCHEMA)
    if late.height:
        log.warning(f"production plan for {outcome.week}: firm orders on {sorted(set(late['line_id']))} "
                    "cannot be made on time; planned as early as the hours allow (see production_plan_diagnosis)")
    late = late.with_columns(plan_week=pl.lit(outcome.week, dtype=pl.Date),
                             message=pl.lit("firm orders late: planned as early as the line's hours allow"))
    warehouse.write(DIAGNOSIS_TABLE, late.select("plan_week", *DIAGNOSIS_SCHEMA, "message"), window=week)
    return rows


def _diagnosis_markdown(outcomes: list[PlanOutcome]) -> str:
    parts = []
    for o in outcomes:
        parts.append(f"**{o.week}**: {o.failure or 'plan gate failed: ' + '; '.join(o.gate or [])}")
        if o.diagnosis.height:
            parts.append("| line | week | required h | capacity h | short h |\n|---|---|---:|---:|---:|\n" + "\n".join(
                f"| {r['line_id']} | {r['week_start']} | {r['required_hours']:,.1f} | {r['capacity_hours']:,.1f} "
                f"| {r['short_hours']:,.1f} |" for r in o.diagnosis.head(20).iter_rows(named=True)))
    return "\n\n".join(parts)


def plan_metadata(outcomes: list[PlanOutcome], rows: int) -> dict:
    failed = [o for o in outcomes if not o.usable]
    last = next((o.result for o in reversed(outcomes) if o.result is not None), None)
    metadata: dict = {"dagster/row_count": rows, "weeks_planned": len(outcomes) - len(failed)}
    if last is not None:
        metadata |= {f: getattr(last, f) for f in _SOLVER_FIELDS}
        metadata["shortage_qty_total"] = float(last.plan["shortage_qty"].sum())
        late = last.late_firm
        metadata["firm_orders_late_lines"] = ", ".join(sorted(set(late["line_id"]))) if late is not None else ""
    if failed:
        metadata["status"] = ("infeasible (previous plan kept)" if any(o.result is None for o in failed)
                              else "failed the plan gate (previous plan kept)")
        metadata["infeasible_weeks"] = ", ".join(str(o.week) for o in failed)
        metadata["diagnosis"] = dg.MetadataValue.md(_diagnosis_markdown(failed))
    return metadata


# What the solve reads (load_plan_inputs and the line capacity); the plan, its lines and its diagnosis
# all come out of the same solve, so all three carry these dependencies.
_PLAN_DEPS = ["forecast_weekly", "daily_inventory_estimated", "product_master", "production_line", "bom",
              window("daily_order", weeks_covering(OPEN_ORDER_LOOKBACK_DAYS)),
              history_until_partition("daily_revenue", decision_weekly_partitions),
              window("daily_production", weeks_covering(182))]  # line capacity without production_line


def _plan_spec(name: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(name, group_name=GROUP, deps=_PLAN_DEPS, kinds={"pyomo", "highs", "polars"},
                        metadata={"partition_expr": "plan_week"}, description=description)


@dg.multi_asset(
    name="production_plan",
    specs=[
        _plan_spec(PLAN_TABLE, "Weekly production plan for the 12 weeks after W (capacitated lot-sizing MILP, "
                   "backlog allowed at a penalty, firm open orders hard): finished goods from the P50/P90 forecast "
                   "made at W plus open orders, in-house sub-assemblies from the goods' demand through the BOM. "
                   "balance_residual checks the stock balance. If no plan can be made the previous plan of W stays "
                   "and production_plan_diagnosis says which line is short in which week."),
        _plan_spec(LINE_TABLE, "Hours per production line and week of the plan made at W: regular hours used, "
                   "overtime, capacity (regular + overtime) and utilisation. Kept with the plan it belongs to: a "
                   "refused plan leaves the previous lines of W in place."),
        _plan_spec(DIAGNOSIS_TABLE, "Why the plan of W was refused: one row per short line-week (required vs "
                   "capacity hours, and how that was found), or one row naming the gate or 'none found'; every "
                   "row carries the message."),
    ],
    partitions_def=decision_weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[dg.AssetCheckSpec(PLAN_GATE_CHECK, asset=PLAN_TABLE, blocking=True,
                                   description="Plan gate: no part ended by the time budget, "
                                   "proved gap <= PlanConfig.gate_max_gap (2 %) and no avoidable backlog. A failed "
                                   "plan is not written (the previous one stays) and purchases/actions do not run on it."),
                 dg.AssetCheckSpec(LINE_CAPACITY_CHECK, asset=LINE_TABLE,
                                   description="No line-week of the run's plans uses more hours (regular + "
                                   f"overtime) than its capacity (tolerance {HOURS_TOLERANCE} h), none negative."),
                 dg.AssetCheckSpec(DIAGNOSIS_CHECK, asset=DIAGNOSIS_TABLE,
                                   description="Each plan week of the run has either its plan stored or (refused) "
                                   "diagnosis rows; every diagnosis row carries its reason (message, basis).")],
    pool=WAREHOUSE_POOL,
    description="Solves the plan of each week W and writes production_plan, production_plan_line and "
    "production_plan_diagnosis together.",
)
def production_plan(context: dg.AssetExecutionContext, warehouse: Warehouse, config: PlanConfig):
    start, end = window_dates(context)
    outcomes, rows = [], 0
    for week in weeks_in(start, end):
        inputs = load_plan_inputs(warehouse, week, config)
        outcome = solve_plan(inputs, config)
        rows += record_plan(warehouse, inputs, outcome, context.log)
        outcomes.append(outcome)
    failed = {str(o.week): (o.failure or "; ".join(o.gate or [])) for o in outcomes if not o.usable}
    gate = dg.AssetCheckResult(
        asset_key=PLAN_TABLE, check_name=PLAN_GATE_CHECK, passed=not failed, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"weeks_failed": dg.MetadataValue.json(failed), "max_gap": config.gate_max_gap,
                  "weeks_checked": len(outcomes)})
    # The run's edits to PlanConfig (launchpad), so a plan made off the defaults says so.
    metadata = plan_metadata(outcomes, rows) | {"config_overrides": dg.MetadataValue.json(config.overrides())}
    yield dg.MaterializeResult(asset_key=PLAN_TABLE, metadata=metadata, check_results=[gate])
    yield from side_table_results(warehouse, Window("plan_week", start, end), outcomes)


def side_table_results(warehouse: Warehouse, weeks: Window, outcomes: list[PlanOutcome]):
    """Row counts and checks of production_plan_line and production_plan_diagnosis, read back as stored."""
    lines, diagnosis = warehouse.read_table(LINE_TABLE, weeks), warehouse.read_table(DIAGNOSIS_TABLE, weeks)
    over = lines_over_capacity(lines)
    yield dg.MaterializeResult(
        asset_key=LINE_TABLE,
        metadata={"dagster/row_count": lines.height,
                  "max_utilisation": float(lines["utilisation"].max()) if lines.height else None},
        check_results=[dg.AssetCheckResult(
            asset_key=LINE_TABLE, check_name=LINE_CAPACITY_CHECK, passed=over.is_empty(),
            metadata={"rows_checked": lines.height, "line_weeks_over_capacity": over.height,
                      "examples": dg.MetadataValue.json([{k: str(v) for k, v in r.items()}
                                                         for r in over.head(5).iter_rows(named=True)])})])
    plan = warehouse.query(f"select plan_week, count(*) as n from {PLAN_TABLE} where {weeks.predicate()} "
                           "group by 1") if warehouse.table_exists(PLAN_TABLE) else pl.DataFrame()
    problems = unexplained_weeks({o.week: o.usable for o in outcomes}, dict(plan.rows()) if plan.height else {},
                                 diagnosis)
    yield dg.MaterializeResult(
        asset_key=DIAGNOSIS_TABLE,
        metadata={"dagster/row_count": diagnosis.height, "weeks_refused": sum(not o.usable for o in outcomes)},
        check_results=[dg.AssetCheckResult(
            asset_key=DIAGNOSIS_TABLE, check_name=DIAGNOSIS_CHECK, passed=not problems,
            metadata={"weeks_checked": len(outcomes), "problems": dg.MetadataValue.json(problems)})])


def supplier_costs_krw(warehouse: Warehouse, week: date) -> pl.DataFrame:
    """``product_lead_time`` of ``week`` with each pair's PO currency and ``mean_unit_cost_krw`` at the
    rate of the business date (a supplier prices a material in one currency; the latest line's wins)."""
    lead = warehouse.query("select * from product_lead_time where week_start = $w", {"w": week})
    currency = warehouse.query(
        "select product_id, supplier_id, order_date, currency from purchase_order where order_date <= $day",
        {"day": as_of(week)},
    ).sort("order_date").group_by("product_id", "supplier_id").agg(pl.col("currency").last())
    lead = lead.join(currency, on=["product_id", "supplier_id"], how="left")
    return in_krw(lead, krw_rates(warehouse, as_of(week)), ["mean_unit_cost"])


@dg.asset(
    group_name=GROUP,
    partitions_def=decision_weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["production_plan", "product_lead_time", "bom", history_until_partition("purchase_order", decision_weekly_partitions),
          "daily_inventory_estimated", "product_master"],
    metadata={"partition_expr": "plan_week"},
    kinds={"polars"},
    pool=WAREHOUSE_POOL,
    description="Planned purchase orders per raw material for plan week W (MRP): the plan of W exploded "
    "through the BOM, netted against stock and open POs as of W's Sunday, ordered from the best-scoring "
    "supplier its P90 lead time ahead, in EOQ / MOQ multiples.",
)
def purchase_recommendation(context: dg.AssetExecutionContext, warehouse: Warehouse,
                            config: PurchaseConfig) -> dg.MaterializeResult:
    start, end = window_dates(context)
    bom = warehouse.query("select parent_product_id, component_product_id, qty_per, scrap_rate from bom")
    frames, unassigned, planless = [], set(), []
    for week in weeks_in(start, end):
        plan = warehouse.query(f"select product_id, week_start, production_qty from {PLAN_TABLE} "
                               "where plan_week = $w", {"w": week}) if warehouse.table_exists(PLAN_TABLE) else pl.DataFrame()
        if plan.is_empty():
            # An infeasible first plan leaves nothing to buy for; the actions still run on risk alone.
            context.log.warning(f"no production plan for {week} (see production_plan_diagnosis): no purchases")
            planless.append(week)
            continue
        products, lead_times = products_in_krw(warehouse, as_of(week)), supplier_costs_krw(warehouse, week)
        # Planned sub-assemblies bring their own (timed) material need; exploding the goods through
        # them as well would count those materials twice.
        planned = plan["product_id"].unique().to_list()
        tree = bom.filter(~pl.col("component_product_id").is_in(planned))
        recs = recommend_purchases(plan, tree, products, on_hand_at(warehouse, as_of(week)),
                                   open_purchase_orders(warehouse, as_of(week)), lead_times, as_of(week),
                                   config)
        unassigned |= set(recs.filter(pl.col("supplier_id").is_null())["product_id"].to_list())
        frames.append(recs.filter(pl.col("supplier_id").is_not_null()).with_columns(plan_week=pl.lit(week)))
    if unassigned:
        context.log.warning(f"no supplier has ever been sent a PO for {sorted(unassigned)}: not recommended")
    if not frames:
        return dg.MaterializeResult(metadata={"dagster/row_count": 0, "status": "no production plan (nothing written)",
                                              "weeks_without_plan": ", ".join(map(str, planless))})
    recs = pl.concat(frames)
    # Weeks without a plan keep whatever they had; only the planned weeks are replaced.
    rows = sum(warehouse.write("purchase_recommendation", recs.filter(pl.col("plan_week") == w),
                               window=Window("plan_week", w, w + timedelta(days=7)))
               for w in weeks_in(start, end) if w not in planless)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "materials": recs["product_id"].n_unique(),
        "expedite_now": recs.filter(pl.col("order_by_date") <= pl.col("plan_week") + timedelta(days=6)).height,
        "order_value_krw": float(recs["order_value_krw"].fill_null(0.0).sum()),
        "past_order_by_date": recs.filter(pl.col("days_late") > 0).height,
        "materials_without_supplier": ", ".join(sorted(unassigned)) or "none",
        "weeks_without_plan": ", ".join(map(str, planless)) or "none",
        "config_overrides": dg.MetadataValue.json(config.overrides()),
    })
