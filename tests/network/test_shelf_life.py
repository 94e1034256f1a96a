"""Shelf life is exact under first-expiring-first-out, also when lanes overtake each other (issue #14)."""

from datetime import date, timedelta

import polars as pl

from dsop_assets.network.chunk import Carry
from dsop_assets.network.config import NetworkConfig
from dsop_assets.network.lp import Milp, solve
from dsop_assets.network.shelf import (
    fefo_closing_lots,
    overtaking_pairs,
    shelf_life_rows,
)

START = date(2025, 3, 3)
LIFE = 5
T = 6  # the young lot (made day 1) stays fresh to the end; the old one (made day 0) must go on day 5


class _Data:
    skus = pl.DataFrame({"sku_id": ["S"], "life_days": [LIFE]})
    config = NetworkConfig()


def _overtaken_warehouse(slow_transit: int = 3, out_day: int = 2):
    """One warehouse, one SKU of life 5, no stock at first. A slow lot made on day 0 lands on day
    ``slow_transit``; a fast lot made on day 1 lands on day 1. 10 units of each arrive; 10 leave on
    ``out_day``; the rest may only leave as discards (cost 1 each). Stock must not outlive its SKU.
    """
    m = Milp()
    days = pl.DataFrame({"day": pl.date_range(START, START + timedelta(days=T - 1), "1d", eager=True)}).with_row_index("t").with_columns(
        pl.col("t").cast(pl.Int64))
    cell = days.select("t").with_columns(pl.lit("W").alias("site_id"), pl.lit("S").alias("sku_id"), pl.lit(LIFE).cast(pl.Int64).alias("life_days"))
    inv = m.add_vars("inv", cell)
    disc = m.add_vars("disc", cell.select("site_id", "sku_id", "t"), cost=1.0)
    arcs = pl.DataFrame({"dst": ["W", "W"], "sku_id": ["S", "S"], "t": [0, 1], "t_arr": [slow_transit, 1], "life_days": [LIFE, LIFE]})
    x = m.add_vars("x_pw", arcs, lb=10.0, ub=10.0)
    out = pl.DataFrame({"site_id": ["W"], "sku_id": ["S"], "t": [out_day], "q": [10.0]})
    rows = pl.concat([
        inv.select("site_id", "sku_id", "t", "col", pl.lit(1.0).alias("coef")),
        inv.select("site_id", "sku_id", (pl.col("t") + 1).alias("t"), "col", pl.lit(-1.0).alias("coef")).filter(pl.col("t") < T),
        x.select(pl.col("dst").alias("site_id"), "sku_id", pl.col("t_arr").alias("t"), "col", pl.lit(-1.0).alias("coef")),
        disc.select("site_id", "sku_id", "t", "col", pl.lit(1.0).alias("coef")),
    ]).join(out, on=["site_id", "sku_id", "t"], how="left").with_columns((-pl.col("q").fill_null(0.0)).alias("rhs"))
    m.add_rows(rows, ["site_id", "sku_id", "t"], lo="rhs", hi="rhs")
    opening = pl.DataFrame(schema={"site_id": pl.Utf8, "sku_id": pl.Utf8, "t": pl.Int64, "q": pl.Float64})
    stats = shelf_life_rows(m, _Data(), days, inv, x, Carry(), opening)
    res = solve(m, NetworkConfig(), "highspy")
    return stats, res, disc, days


def test_an_older_lot_landing_after_a_younger_one_cannot_sit_past_its_life():
    # FEFO: the day-2 outflow can only take the young lot (the old one is still at sea); the old lot
    # lands on day 3 and is past its life after day 4, so its 10 units must be discarded. The old
    # cumulative rows counted "10 fresh units received" and let it stay.
    stats, res, disc, _ = _overtaken_warehouse()
    assert stats["fefo_pairs_cohort"] == 1 and stats["fefo_pairs_in_order"] == 0
    assert res.status.lower().startswith("optimal")
    discarded = res.values[disc["col"].to_numpy()]
    assert abs(discarded.sum() - 10.0) < 1e-6


def test_in_order_arrivals_keep_the_cumulative_rows_and_need_no_discard():
    # The old lot lands on day 1 with the young one: FEFO's day-2 outflow takes it, nothing expires.
    stats, res, disc, _ = _overtaken_warehouse(slow_transit=1)
    assert stats["fefo_pairs_in_order"] == 1 and stats["fefo_pairs_cohort"] == 0
    assert res.values[disc["col"].to_numpy()].sum() < 1e-6


def test_overtaking_is_read_from_production_and_arrival_days():
    events = pl.DataFrame({"site_id": ["A", "A", "B", "B", "C", "C"], "sku_id": ["S"] * 6,
                           "p": [0, 1, 0, 1, 0, 0], "a": [4, 2, 2, 3, 5, 1]})
    assert overtaking_pairs(events)["site_id"].to_list() == ["A"]  # same day made, different arrivals: one lot, no order


def test_carried_lots_are_what_fefo_leaves_not_the_youngest_received():
    d = lambda k: START + timedelta(days=k)  # noqa: E731
    arrivals = pl.DataFrame({"site_id": ["W", "W"], "sku_id": ["S", "S"], "day": [d(3), d(1)], "produced": [d(0), d(1)], "qty": [10.0, 10.0]})
    outflows = pl.DataFrame({"site_id": ["W"], "sku_id": ["S"], "day": [d(2)], "qty": [10.0]})
    lots = pl.DataFrame(schema={"site_id": pl.Utf8, "sku_id": pl.Utf8, "produced": pl.Date, "qty": pl.Float64})
    left = fefo_closing_lots(START, d(4), lots, arrivals, outflows)
    assert left.select("produced", "qty").rows() == [(d(0), 10.0)]


def test_short_lives_on_the_tiny_network_pass_the_fefo_replay(tiny_network):
    # End to end: both chunks build cohort rows for lanes that can overtake, carry FEFO lots, and the
    # independent checker's replay finds no unit past its life.
    import dataclasses

    from dsop_assets.network.checker import SHELF_LIFE, STOCK_BALANCE, check_plan
    from dsop_assets.network.rolling import solve_rolling

    nd, facilities = tiny_network
    nd = dataclasses.replace(nd, skus=nd.skus.with_columns(pl.Series("life_days", [6, 8][: nd.skus.height])))
    plan = solve_rolling(nd, facilities, backend="highspy")
    assert (plan["summary"]["fefo_pairs_cohort"] > 0).all()
    found = check_plan(nd, facilities, plan)
    assert found.filter(pl.col("rule").is_in([SHELF_LIFE, STOCK_BALANCE])).height == 0
    assert plan["stock"]["discarded_qty"].sum() > 0  # the rule binds: some stock does expire
