"""fill_bound: the most of a week's demand any plan can deliver, the proof behind weekly_fill_95_unreachable."""

import dataclasses
from datetime import timedelta

import polars as pl

from dsop_assets.network.fill_bound import max_week_fill


def _weekly(plan: dict) -> dict:
    svc = plan["service"]
    return dict(svc.group_by(pl.col("demand_date").dt.truncate("1w")).agg(pl.col("delivered_qty").sum() / pl.col("demand_qty").sum()).iter_rows())


def test_bound_is_above_what_the_plan_delivers(tiny_network, tiny_plan):
    nd, facilities = tiny_network
    fills = _weekly(tiny_plan)
    for k in range(2):
        week = nd.start + timedelta(days=7 * k)
        own = max_week_fill(nd, week, facilities)
        free = max_week_fill(nd, week, None)
        assert own["bound_fill"] >= fills[week] - 1e-6, (week, own, fills[week])
        # Any facilities include these ones.
        assert free["bound_fill"] >= own["bound_fill"] - 1e-6


def test_no_opening_stock_means_nothing_before_the_plants(tiny_network):
    nd, facilities = tiny_network
    assert nd.start.weekday() == 0  # plants start a week later: week 1 has only the opening stock
    dry = dataclasses.replace(nd, config=dataclasses.replace(nd.config, initial_stock=0.0))
    assert max_week_fill(dry, nd.start, None)["bound_fill"] == 0.0
    assert max_week_fill(nd, nd.start, None)["bound_fill"] > 0.0


def test_later_week_floor_costs_the_week_before(tiny_network):
    # Both weeks draw on the same opening stock: holding week 2 high can only lower week 1's maximum.
    nd, facilities = tiny_network
    w1, w2 = nd.start, nd.start + timedelta(days=7)
    alone = max_week_fill(nd, w1, facilities)["max_fill"]
    w2_max = max_week_fill(nd, w2, facilities)["max_fill"]
    held = max_week_fill(nd, w1, facilities, floors={w2: w2_max})["max_fill"]
    assert held <= alone + 1e-9


def test_startup_warehouse_stops_shipping_after_the_startup(tiny_network):
    from dsop_assets.network import checker
    from dsop_assets.network.chunk import startup_end
    from dsop_assets.network.rolling import solve_rolling

    nd, facilities = tiny_network
    temp = facilities.filter(pl.col("site_type") == "warehouse")["site_id"][-1]
    marked = facilities.with_columns(pl.when(pl.col("site_id") == temp).then(pl.lit("startup")).otherwise(pl.lit("core")).alias("role"))
    plan = solve_rolling(nd, marked, backend="highspy")
    ship = plan["shipment"].filter((pl.col("src") == temp) | (pl.col("dst") == temp))
    assert ship.height > 0  # it does work during the start-up
    assert ship.filter(pl.col("ship_date") > startup_end(nd, marked)).height == 0
    hard = checker.check_plan(nd, marked, plan).filter(~pl.col("rule").is_in([checker.WEEKLY_FILL, checker.WEEKLY_FILL_UNREACHABLE]))
    assert hard.height == 0, hard.to_dicts()[:5]
