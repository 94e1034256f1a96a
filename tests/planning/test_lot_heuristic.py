import numpy as np
import pytest

from dsop_jobs.bench_plan import random_instance
from dsop_assets.planning.config import PlanConfig
from dsop_assets.planning.lot_heuristic import fits, lot_sizing_plan, plan_cost
from dsop_assets.planning.plan_data import prepare_plan_data
from dsop_assets.planning.production_model import warm_start
from dsop_assets.planning.warm_start import heuristic_plan


@pytest.fixture(scope="module")
def data():
    return prepare_plan_data(*random_instance(n_products=120, n_lines=3, seed=11), PlanConfig())


def test_lot_sizing_plan_fits_in_whole_lots(data):
    made = lot_sizing_plan(data, data.max_production())
    assert made is not None and fits(data, made)
    lotted = ~np.isnan(data.lot)
    lots = made[lotted] / data.lot[lotted, None]
    assert np.allclose(lots, np.round(lots))


def test_warm_start_is_no_dearer_than_order_up_to(data):
    start = warm_start(data, PlanConfig())
    assert fits(data, start)
    assert plan_cost(data, start) <= plan_cost(data, heuristic_plan(data, data.max_production())) + 1e-6


def test_plan_cost_splits_by_line(data):
    made = lot_sizing_plan(data, data.max_production())
    parts = sum(plan_cost(data, made, data.line_of == l) for l in range(len(data.lines)))
    assert parts == pytest.approx(plan_cost(data, made))


def test_plan_cost_is_the_model_objective():
    from tests.planning.test_production_model import _tiny
    from dsop_assets.planning.production_model import plan_production

    inst = _tiny()
    cfg = PlanConfig(horizon_weeks=3, mip_rel_gap=0.0)
    res = plan_production(*inst, cfg)
    made = res.plan.sort("product_id", "week_start")["production_qty"].to_numpy().reshape(2, 3)
    assert plan_cost(prepare_plan_data(*inst, cfg), made) == pytest.approx(res.objective)
