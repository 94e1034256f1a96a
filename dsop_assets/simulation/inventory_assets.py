"""``inventory_policy_simulated`` (weekly): simulated (s, Q) per bought material next to the analytic EOQ/ROP."""

from datetime import date, timedelta

import dagster as dg
import numpy as np
import polars as pl

from dsop_assets.analytics_evaluation import evaluation_spec, write_evaluation
from dsop_assets.decision_inputs import as_of, material_links, weekly_forecast
from dsop_assets.partitions import decision_weekly_partitions, weeks_in, window_dates
from dsop_assets.planning.config import PurchaseConfig
from dsop_assets.simulation import inventory_mc as mc
from dsop_resources import WAREHOUSE_POOL, Warehouse, Window

GROUP = "inventory_simulation"
WITHIN_TWO_POINTS = "simulated_service_within_2_points"
TOLERANCE = 0.02


def lead_time_weeks(warehouse: Warehouse, day: date) -> dict[str, np.ndarray]:
    """Observed receipt lead times in whole weeks (>= 1) per material, received by ``day``."""
    frame = warehouse.query(
        "select product_id, date_diff('day', order_date, received_date) as days from purchase_order "
        "where received_date is not null and received_date <= $d", {"d": day})
    out = {}
    for pid, days in frame.group_by("product_id").agg(pl.col("days")).sort("product_id").iter_rows():
        out[pid] = np.maximum(np.ceil(np.asarray(days, dtype=float) / 7.0), 1).astype(int)
    return out


POLICY_SCHEMA = {
    "week_start": pl.Date, "product_id": pl.String, "target_service": pl.Float64, "sim_reorder_point": pl.Float64,
    "sim_order_qty": pl.Float64, "sim_service": pl.Float64, "sim_avg_stock": pl.Float64, "sim_cost": pl.Float64,
    "sim_reached_on_grid": pl.Boolean, "analytic_reorder_point": pl.Float64, "analytic_order_qty": pl.Float64,
    "analytic_service": pl.Float64, "analytic_avg_stock": pl.Float64, "analytic_cost": pl.Float64,
    "preferred_policy": pl.String,
}


def policies_for_week(warehouse: Warehouse, week: date, config: PurchaseConfig,
                      log=None) -> pl.DataFrame:
    recs = warehouse.query(
        "select product_id, max(eoq) as eoq, max(reorder_point) as reorder_point, max(unit_cost) as unit_cost "
        "from purchase_recommendation where plan_week = $w group by 1 order by 1", {"w": week}
    ) if warehouse.table_exists("purchase_recommendation") else pl.DataFrame()
    if recs.is_empty():
        # purchase_recommendation writes nothing for a week without a feasible plan: nothing to compare with
        if log:
            log.warning(f"no purchase recommendations for {week}: no analytic policy to compare, week skipped")
        return pl.DataFrame(schema=POLICY_SCHEMA)
    forecast = weekly_forecast(warehouse, week, mc.WEEKS)
    if forecast.is_empty():
        raise dg.Failure(f"no weekly product forecast with origin {week}: materialise forecast_weekly first")
    goods = sorted(forecast["product_id"].unique())
    bom = warehouse.query("select parent_product_id, component_product_id, qty_per, scrap_rate from bom")
    links = material_links(bom, goods).filter(pl.col("material_id").is_in(recs["product_id"].implode()))
    master = warehouse.query("select product_id, unit_cost, holding_cost_rate, ordering_cost from product_master")
    target_weeks = sorted(forecast["week_start"].unique())[: mc.WEEKS]
    grid = pl.DataFrame({"product_id": goods}).join(pl.DataFrame({"week_start": target_weeks}), how="cross")
    q = grid.join(forecast, on=["product_id", "week_start"], how="left").fill_null(0.0).sort("product_id", "week_start")
    shape = (len(goods), len(target_weeks))
    p10, p50, p90 = (q[c].to_numpy().reshape(shape) for c in ("p10", "p50", "p90"))
    gi = {g: i for i, g in enumerate(goods)}
    draws = {}
    for name, seed in (("search", mc.SEARCH_SEED), ("check", mc.CHECK_SEED)):
        draws[name] = mc.quantile_draws(np.random.default_rng(seed), p10, p50, p90, mc.PATHS)
    leads = lead_time_weeks(warehouse, as_of(week))
    pooled = np.concatenate(list(leads.values())) if leads else np.array([4])
    costs = {r["product_id"]: r for r in master.iter_rows(named=True)}
    rows = []
    for i, rec in enumerate(recs.iter_rows(named=True)):
        pid = rec["product_id"]
        mine = links.filter(pl.col("material_id") == pid)
        if mine.is_empty():
            continue
        weights = np.zeros(len(goods))
        for g, w in mine.select("product_id", "qty_per_unit").iter_rows():
            weights[gi[g]] += w
        observed = leads.get(pid, pooled) if len(leads.get(pid, [])) >= 5 else pooled
        demand, lead = {}, {}
        for j, name in enumerate(("search", "check")):
            used = np.flatnonzero(weights)
            demand[name] = np.einsum("pgw,g->pw", draws[name][:, used, :], weights[used])
            rng = np.random.default_rng([mc.SEARCH_SEED + j, i])
            lead[name] = rng.choice(observed, size=(mc.PATHS, mc.WEEKS))
        if demand["search"].sum() <= 0:
            continue
        item = costs.get(pid, {})
        unit = float(rec["unit_cost"] or item.get("unit_cost") or 0.0)
        rate = item.get("holding_cost_rate")
        rate = config.default_holding_cost_rate if rate is None else rate
        ordering = item.get("ordering_cost")
        ordering = config.default_ordering_cost if ordering is None else ordering
        holding = unit * rate / config.weeks_per_year
        eoq = float(rec["eoq"] or 0.0)
        sim = mc.best_policy(demand["search"], lead["search"], demand["check"], lead["check"], eoq,
                             config.service_level, holding, ordering)
        analytic = mc.evaluate_policy(demand["check"], lead["check"], float(rec["reorder_point"] or 0.0),
                                      max(eoq, 1e-9), holding, ordering)
        better = sim["cost"] < analytic["cost"] or analytic["fill"] < config.service_level <= sim["fill"]
        rows.append(dict(
            week_start=week, product_id=pid, target_service=config.service_level,
            sim_reorder_point=sim["s"], sim_order_qty=sim["q"], sim_service=sim["fill"], sim_avg_stock=sim["avg_stock"],
            sim_cost=sim["cost"], sim_reached_on_grid=sim["reached_on_grid"],
            analytic_reorder_point=float(rec["reorder_point"] or 0.0), analytic_order_qty=eoq,
            analytic_service=analytic["fill"], analytic_avg_stock=analytic["avg_stock"], analytic_cost=analytic["cost"],
            preferred_policy="simulated" if better else "analytic"))
    return pl.DataFrame(rows, schema=POLICY_SCHEMA)


DESCRIPTION = (
    f"Per bought material as of week W: the cheapest (reorder point, order qty) whose simulated fill "
    f"rate reaches the purchase service level ({mc.PATHS} paths x {mc.WEEKS} weeks; demand from the forecast "
    "quantiles through the BOM, lead times bootstrapped from receipts; fixed seeds), re-measured on independent "
    "paths, next to the analytic EOQ/ROP of purchase_recommendation simulated on the same paths (service reached, "
    "stock carried, cost). preferred_policy says which is better."
)


@dg.multi_asset(
    name="inventory_policy_simulated",
    specs=[
        dg.AssetSpec("inventory_policy_simulated", group_name=GROUP, metadata={"partition_expr": "week_start"},
                     deps=["purchase_recommendation", "forecast_weekly", "purchase_order", "bom", "product_master"],
                     kinds={"numpy", "polars"}, description=DESCRIPTION),
        evaluation_spec("inventory_policy_simulated", GROUP),
    ],
    partitions_def=decision_weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    check_specs=[dg.AssetCheckSpec(WITHIN_TWO_POINTS, asset="inventory_policy_simulated",
                                   description="The simulated policy's fill rate on independent paths is within "
                                   "2 points of the target for every material whose grid reached it.")],
)
def inventory_policy_simulated(context: dg.AssetExecutionContext, warehouse: Warehouse):
    start, end = window_dates(context)
    config = PurchaseConfig()
    table = pl.concat([policies_for_week(warehouse, w, config, context.log) for w in weeks_in(start, end)],
                      how="vertical_relaxed")
    written = warehouse.write("inventory_policy_simulated", table, window=Window("week_start", start, end))
    reached = table.filter(pl.col("sim_reached_on_grid"))
    within = (reached["sim_service"] - config.service_level).abs() <= TOLERANCE
    summary = {
        "materials": table.height,
        "sim_within_2_points_share": round(float(within.mean()), 4) if reached.height else None,
        "sim_within_2_points_share_all": round(float(((table["sim_service"] - config.service_level).abs()
                                                      <= TOLERANCE).mean()), 4) if written else None,
        "sim_service_median": round(float(table["sim_service"].median()), 4) if written else None,
        "analytic_service_median": round(float(table["analytic_service"].median()), 4) if written else None,
        "analytic_below_target_share": round(float((table["analytic_service"] < config.service_level).mean()), 4)
        if written else None,
        "sim_stock_vs_analytic": round(float(table["sim_avg_stock"].sum() / max(table["analytic_avg_stock"].sum(), 1e-9)), 4)
        if written else None,
        "preferred_simulated_share": round(float((table["preferred_policy"] == "simulated").mean()), 4) if written else None,
    }
    evaluated = write_evaluation(warehouse, "inventory_policy_simulated", start, end, [
        dict(asset="inventory_policy_simulated", period_start=start, metric=k, method="monte_carlo", value=v)
        for k, v in summary.items() if v is not None and k != "materials"])
    yield dg.MaterializeResult(
        asset_key="inventory_policy_simulated",
        metadata={"dagster/row_count": written, **summary},
        check_results=[dg.AssetCheckResult(asset_key="inventory_policy_simulated", check_name=WITHIN_TWO_POINTS, passed=bool(within.all()),
                                           severity=dg.AssetCheckSeverity.WARN,
                                           metadata={"outside": int((~within).sum()), "reached": reached.height})],
    )
    yield evaluated


inventory_simulation_assets = [inventory_policy_simulated]
