import numpy as np
import polars as pl
import pytest

from dsop_jobs.bench_plan import random_instance
from dsop_assets.planning.column_generation import line_cost, plan_line
from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.local_search import sweep
from dsop_assets.planning.lot_heuristic import fits, plan_cost
from dsop_assets.planning.lower_bound import product_plan
from dsop_assets.planning.plan_data import prepare_plan_data
from dsop_assets.planning.production_model import plan_production, warm_start


def _exact(inst) -> float:
    # One model of everything, solved to optimality by HiGHS: the yardstick for bounds.
    res = plan_production(*inst, PlanConfig(decompose_by_line=False, mip_rel_gap=0.0, mip_max_nodes=10**7))
    assert res.status == "optimal"
    return res.objective


@pytest.fixture(scope="module")
def line_data():
    # 24 products on one busy line.
    inst = random_instance(n_products=24, n_lines=1, load=0.9, seed=11)
    cfg = PlanConfig()
    return inst, cfg, prepare_plan_data(*inst, cfg)


def test_capped_product_plan_is_the_one_product_optimum():
    # A line with one product and no overtime: the recursion with one week's output capped at the
    # line's hours is the whole model, so it must match HiGHS's optimum exactly.
    demand, products, lines, opening = random_instance(n_products=1, n_lines=1, load=1.3, seed=5)
    lines = lines.with_columns(pl.lit(0.0).alias("overtime_hours_per_week"))
    inst = (demand, products, lines, opening)
    cfg = PlanConfig()
    data = prepare_plan_data(*inst, cfg)
    value, plan = product_plan(data, 0, max_hours=float(data.regular[0]))
    assert (plan * data.hours[0] <= data.regular[0] + 1e-6).all()
    assert value == pytest.approx(_exact(inst), rel=1e-9)
    uncapped, _ = product_plan(data, 0)
    assert uncapped <= value + 1e-6


def test_bound_never_exceeds_the_exact_optimum_and_the_plan_never_beats_it():
    inst = random_instance(n_products=5, n_lines=1, load=1.1, seed=8)
    cfg = PlanConfig()
    data = prepare_plan_data(*inst, cfg)
    optimum = _exact(inst)
    result = plan_line(data, list(range(len(data.products))), 0, warm_start(data, cfg))
    assert result.bound <= optimum * (1 + 1e-9)
    assert result.cost >= optimum * (1 - 1e-9)
    assert fits(data, result.made)


def test_line_plan_is_feasible_whole_lots_and_proved(line_data):
    _, cfg, data = line_data
    start = warm_start(data, cfg)
    members = list(range(len(data.products)))
    result = plan_line(data, members, 0, start)
    assert fits(data, result.made) and not result.time_capped
    assert result.cost == pytest.approx(line_cost(data, members, 0, result.made))
    assert result.cost == pytest.approx(plan_cost(data, result.made))
    assert result.bound <= result.cost <= plan_cost(data, start) * (1 + 1e-12)
    assert (result.cost - result.bound) / result.cost <= cfg.mip_rel_gap
    lotted = ~np.isnan(data.lot)
    ratio = result.made[lotted] / data.lot[lotted, None]
    assert np.allclose(ratio, np.round(ratio))
    swept, cost = sweep(data, result.made, members, 0, np.ones(len(members), dtype=bool), result.cost)
    assert cost <= result.cost and fits(data, swept)


def test_planned_line_reports_a_proved_gap(line_data):
    inst, cfg, data = line_data
    res = plan_production(*inst, cfg)
    made = res.plan.sort("product_id", "week_start")["production_qty"].to_numpy().reshape(data.demand.shape)
    assert fits(data, made)
    assert res.objective == pytest.approx(plan_cost(data, made), rel=1e-7)
    assert 0.0 <= res.mip_gap <= cfg.mip_rel_gap


def test_planned_line_gives_the_same_plan_twice(line_data):
    # Every step stops on round and node counts, never on the clock: a rerun (on any machine
    # load) must give the identical plan.
    inst, cfg, _ = line_data
    first, again = plan_production(*inst, cfg), plan_production(*inst, cfg)
    assert again.plan.equals(first.plan) and again.objective == first.objective
    assert not first.time_capped
