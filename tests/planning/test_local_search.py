import numpy as np
import pytest

from dsop_jobs.bench_plan import random_instance
from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.local_search import improve_line, settle_line
from dsop_assets.planning.lot_heuristic import fits, plan_cost
from dsop_assets.planning.lower_bound import line_bound, product_bound
from dsop_assets.planning.plan_data import prepare_plan_data
from dsop_assets.planning.plan_milp import objective_scale
from dsop_assets.planning.production_model import plan_production, warm_start


@pytest.fixture(scope="module")
def line_data():
    # 24 products on one line: large enough for plan_production to use the search path.
    inst = random_instance(n_products=24, n_lines=1, load=0.8, seed=11)
    cfg = PlanConfig()
    return inst, cfg, prepare_plan_data(*inst, cfg)


def test_bounds_never_exceed_the_exact_optimum():
    # Small enough for HiGHS to prove the optimum; both bounds are relaxations of that model.
    inst = random_instance(n_products=4, n_lines=1, load=0.9, seed=8)
    cfg = PlanConfig(mip_rel_gap=0.0)
    res = plan_production(*inst, cfg)
    assert res.status == "optimal"
    data = prepare_plan_data(*inst, cfg)
    members = list(range(len(data.products)))
    assert sum(product_bound(data, p) for p in members) <= res.objective * (1 + 1e-9)
    lower, plan = line_bound(data, members, 0, res.objective)
    assert lower <= res.objective * (1 + 1e-9)
    if plan is not None:
        assert plan_cost(data, plan) >= res.objective * (1 - 1e-9)


def test_search_keeps_the_plan_feasible_and_never_worse(line_data):
    _, cfg, data = line_data
    start = warm_start(data, cfg)
    members = list(range(len(data.products)))
    made, upper, lower = settle_line(data, start, members, 0, cfg)
    assert fits(data, made) and upper == pytest.approx(plan_cost(data, made))
    made, capped = improve_line(data, made, members, 0, objective_scale(data), cfg, lower)
    upper = plan_cost(data, made)
    assert fits(data, made) and not capped
    assert upper == pytest.approx(plan_cost(data, made))
    assert lower <= upper <= plan_cost(data, start) * (1 + 1e-12)
    lotted = ~np.isnan(data.lot)
    ratio = made[lotted] / data.lot[lotted, None]
    assert np.allclose(ratio, np.round(ratio))


def test_searched_line_reports_a_proved_gap(line_data):
    inst, cfg, data = line_data
    res = plan_production(*inst, cfg)
    made = res.plan.sort("product_id", "week_start")["production_qty"].to_numpy().reshape(data.demand.shape)
    assert fits(data, made)
    assert res.objective == pytest.approx(plan_cost(data, made), rel=1e-7)  # the solver works on a scaled objective
    assert 0.0 <= res.mip_gap < 1.0


def test_searched_line_gives_the_same_plan_twice(line_data):
    # The search stops on round and node counts, never on the clock: a rerun (on any machine
    # load) must give the identical plan.
    inst, cfg, _ = line_data
    first, again = plan_production(*inst, cfg), plan_production(*inst, cfg)
    assert again.plan.equals(first.plan) and again.objective == first.objective
    assert not first.time_capped
