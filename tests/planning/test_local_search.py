import time

import numpy as np
import pytest

from dsop_assets.planning.bench_plan import random_instance
from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.local_search import search_line
from dsop_assets.planning.lot_heuristic import fits, plan_cost
from dsop_assets.planning.lower_bound import line_bound, product_bound
from dsop_assets.planning.plan_data import prepare_plan_data
from dsop_assets.planning.plan_milp import objective_scale
from dsop_assets.planning.production_model import plan_production, warm_start


@pytest.fixture(scope="module")
def line_data():
    # 24 products on one line: large enough for plan_production to use the search path.
    inst = random_instance(n_products=24, n_lines=1, load=0.8, seed=11)
    cfg = PlanConfig(time_limit_seconds=60.0)
    return inst, cfg, prepare_plan_data(*inst, cfg)


def test_bounds_never_exceed_the_exact_optimum():
    # Small enough for HiGHS to prove the optimum; both bounds are relaxations of that model.
    inst = random_instance(n_products=4, n_lines=1, load=0.9, seed=8)
    cfg = PlanConfig(mip_rel_gap=0.0, time_limit_seconds=60.0)
    res = plan_production(*inst, cfg)
    assert res.status == "optimal"
    data = prepare_plan_data(*inst, cfg)
    members = list(range(len(data.products)))
    assert sum(product_bound(data, p) for p in members) <= res.objective * (1 + 1e-9)
    lower, plan = line_bound(data, members, 0, res.objective, deadline=np.inf)
    assert lower <= res.objective * (1 + 1e-9)
    if plan is not None:
        assert plan_cost(data, plan) >= res.objective * (1 - 1e-9)


def test_search_keeps_the_plan_feasible_and_never_worse(line_data):
    _, cfg, data = line_data
    start = warm_start(data)
    members = list(range(len(data.products)))
    # A fixed sub-second budget: only validity is checked, whatever the search reaches in it.
    made, upper, lower = search_line(data, start, members, 0, objective_scale(data), cfg, time.perf_counter() + 1.0)
    assert fits(data, made)
    assert upper == pytest.approx(plan_cost(data, made))
    assert lower <= upper <= plan_cost(data, start) * (1 + 1e-12)
    lotted = ~np.isnan(data.lot)
    ratio = made[lotted] / data.lot[lotted, None]
    assert np.allclose(ratio, np.round(ratio))


def test_searched_line_reports_a_proved_gap(line_data):
    inst, cfg, data = line_data
    res = plan_production(*inst, PlanConfig(time_limit_seconds=3.0))
    made = res.plan.sort("product_id", "week_start")["production_qty"].to_numpy().reshape(data.demand.shape)
    assert fits(data, made)
    assert res.objective == pytest.approx(plan_cost(data, made), rel=1e-7)  # the solver works on a scaled objective
    assert 0.0 <= res.mip_gap < 1.0
