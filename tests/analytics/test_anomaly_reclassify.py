"""A pair spike that was the first week of a product level shift: reclassified by the later shift alert."""

from datetime import date, timedelta

import numpy as np
import polars as pl

from dsop_assets.anomaly import detect, evaluate, reclassify, shift
from dsop_assets.anomaly.assets import ORDER_LOOKBACK_WEEKS, order_alerts_from
from dsop_assets.anomaly.features import pair_features, weekly_grid
from dsop_assets.anomaly.messages import with_messages

START = date(2024, 1, 1)
WEEKS = 80
# P1's customers step to x3 here, C1's first week a record 15x; on P2 C4 and C8 step while C3 has one 15x week
STEP = 40


def _week(w: int) -> date:
    return START + timedelta(days=7 * w)


def _orders() -> pl.DataFrame:
    rng = np.random.default_rng(11)

    def level(w: int, usual: float) -> float:
        return float(usual * np.exp(rng.normal(0, 0.2)))

    rows = []
    for w in range(WEEKS):
        rows.append((_week(w), "C1", "P1", 1500.0 if w == STEP else level(w, 300.0 if w > STEP else 100.0)))
        rows.append((_week(w), "C2", "P1", level(w, 60.0 if w >= STEP else 20.0)))
        # a true isolated spike of a small pair, in the week another customer's step begins
        rows.append((_week(w), "C3", "P2", 1500.0 if w == STEP else level(w, 100.0)))
        rows += [(_week(w), c, "P2", level(w, 1200.0 if w >= STEP else 400.0)) for c in ("C4", "C8")]
        rows += [(_week(w), c, p, level(w, 100.0)) for c, p in (("C5", "P3"), ("C6", "P4"), ("C7", "P5"))]
    return pl.DataFrame(rows, schema=["order_date", "customer_id", "product_id", "order_qty"], orient="row")


def test_the_spike_that_opened_a_level_shift_is_reclassified_and_an_isolated_one_is_not():
    orders = _orders()
    grid = weekly_grid(orders, ["customer_id", "product_id"], START, _week(WEEKS - 1))
    rules = detect.pair_rules(pair_features(grid))
    spikes = rules.filter(pl.col("rule_kind") == "spike")
    assert sorted(spikes.select("customer_id", "event_week").rows()) == [("C1", _week(STEP)), ("C3", _week(STEP))]
    shifts = shift.level_shifts(grid, None, orders)
    assert sorted(shifts["product_id"]) == ["P1", "P2"]
    assert all(abs((d - _week(STEP)).days) <= 7 for d in shifts["event_week"])
    assert all(w >= _week(STEP + shift.MIN_WEEKS - 1) for w in shifts["week_start"])  # confirmed weeks later
    out = reclassify.reclassify(shifts, spikes, grid).sort("product_id")
    assert out.select("product_id", *reclassify.COLUMNS).rows() == [("P1", "C1", _week(STEP)), ("P2", None, None)]


def _partition(orders: pl.DataFrame, week: date) -> pl.DataFrame:
    """One weekly partition's order alerts, as the asset computes them (orders from its lookback on)."""
    end = week + timedelta(days=7)
    orders = orders.filter(pl.col("order_date").is_between(week - timedelta(days=7 * ORDER_LOOKBACK_WEEKS), end,
                                                           closed="left"))
    return order_alerts_from(orders, pl.DataFrame(schema={"product_id": pl.String, "week_start": pl.Date,
                                                          "_p50": pl.Float64, "_band": pl.Float64}), week, end)[0]


def test_only_the_partition_that_confirms_the_shift_carries_the_reclassification():
    orders = _orders()
    shifts = shift.level_shifts(weekly_grid(orders, ["customer_id", "product_id"], START, _week(WEEKS - 1)), None, orders)
    called = shifts.filter(pl.col("product_id") == "P1")["week_start"][0]
    spike_week = _partition(orders, _week(STEP))
    assert spike_week.filter(pl.col("kind") == "spike").select("customer_id", "product_id").sort("customer_id").rows() \
        == [("C1", "P1"), ("C3", "P2")]
    assert spike_week["reclassified_customer_id"].is_null().all()  # week t says what it knew then
    later = _partition(orders, called)
    row = later.filter((pl.col("kind") == "level_shift") & (pl.col("product_id") == "P1"))
    assert row.select(*reclassify.COLUMNS).rows() == [("C1", _week(STEP))]
    assert _partition(orders, called).equals(later)  # idempotent
    # scored over both weeks: C1's spike is superseded, not a spike call; C3's stays one
    both = pl.concat([spike_week, later], how="diagonal_relaxed")
    truth = pl.DataFrame({"kind": ["spike", "level_shift"], "customer_id": ["C3", None], "product_id": ["P2", "P1"],
                          "week_start": [_week(STEP), _week(STEP)]})
    result = evaluate.score(both, truth, START, _week(WEEKS))
    assert result["spike"] == {"alerts": 1, "planted": 1, "precision": 1.0, "recall": 1.0, "superseded": 1}
    en, ko = with_messages(row).select("message_en", "message_ko").row(0)
    assert f"The spike of C1 in the week of {_week(STEP)} was the start of this level shift." in en
    assert f"{_week(STEP)} 주의 C1 고객 주문 급증은 이 수준 변화의 시작이었습니다." in ko
