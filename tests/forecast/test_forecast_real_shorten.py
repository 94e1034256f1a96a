"""The real-data check's shorter histories: each series keeps its latest training months and its test part."""

from __future__ import annotations

import polars as pl

from dsop_jobs.tools.forecast_real import shorten


def test_shorten_keeps_the_latest_training_months_and_the_whole_test():
    rows = []
    for sid, n_train in (("A", 40), ("B", 50), ("C", 12)):
        rows += [(sid, "train", t, float(t)) for t in range(1, n_train + 1)]
        rows += [(sid, "test", n_train + t, 1000.0 + t) for t in range(1, 4)]
    frame = pl.DataFrame(rows, schema=["series_id", "split", "t", "value"], orient="row")
    out = shorten(frame, 10, 20)
    kept = dict(out.filter(pl.col("split") == "train").group_by("series_id").len().rows())
    assert kept == {"A": 10, "B": 17, "C": 12}  # 10 + 7 * position mod 11; C has only 12
    a = out.filter(pl.col("series_id") == "A")
    assert a["value"].to_list() == [float(v) for v in range(31, 41)] + [1001.0, 1002.0, 1003.0]
    assert a["t"].to_list() == list(range(1, 14))
    assert out["series_id"].unique(maintain_order=True).to_list() == ["A", "B", "C"]


def test_the_peers_see_every_month_with_zeros_where_no_order_was_placed():
    from dsop_jobs.tools.forecast_real import dense_months

    frame = pl.DataFrame({"unique_id": ["A", "A", "B", "B"], "ds": [10, 13, 12, 14], "y": [5.0, 7.0, 1.0, 2.0]})
    out = dense_months(frame)
    assert out.filter(pl.col("unique_id") == "A").rows() == [("A", 10, 5.0), ("A", 11, 0.0), ("A", 12, 0.0),
                                                               ("A", 13, 7.0), ("A", 14, 0.0)]
    assert out.filter(pl.col("unique_id") == "B")["y"].to_list() == [1.0, 0.0, 2.0]


def test_the_simple_rules_repeat_last_month_and_the_month_a_year_before():
    from datetime import date

    from dsop_jobs.tools.forecast_real import simple_rules

    months = [date(2023 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(1, 25)]  # 2023-01 .. 2024-12
    orders = pl.DataFrame({"order_date": months, "customer_id": "C1", "product_id": "P",
                           "order_qty": [float(i) for i in range(1, 25)]}).filter(pl.col("order_qty") != 20.0)
    out = simple_rules(orders, [date(2024, 10, 1)], 3).sort("model_id", "horizon")
    naive = out.filter(pl.col("model_id") == "naive")
    assert naive["p50"].to_list() == [22.0] * 3 and naive["target_start"].to_list() == [
        date(2024, 11, 1), date(2024, 12, 1), date(2025, 1, 1)]
    seasonal = out.filter(pl.col("model_id") == "seasonal_naive")
    assert seasonal["p50"].to_list() == [11.0, 12.0, 13.0]  # Nov, Dec 2023 and Jan 2024
    assert out.select((pl.col("p10") == pl.col("p50")) & (pl.col("p90") == pl.col("p50"))).to_series().all()
    later = simple_rules(orders, [date(2024, 8, 1)], 1)  # August 2024 had no order: zero, not a gap
    assert later.filter(pl.col("model_id") == "naive")["p50"].to_list() == [0.0]


def test_the_members_are_scored_as_points_from_the_medians_dsop_stores():
    from dsop_jobs.tools.forecast_real import member_points

    dsop = pl.DataFrame({"model_id": ["dsop"] * 2, "product_id": ["A", "B"], "horizon": [1, 1],
                         "p10": [1.0, 1.0], "p50": [9.0, 9.0], "p90": [20.0, 20.0],
                         "p50_lgbm": [3.0, 4.0], "p50_auto_ets": [6.0, None], "p50_auto_theta": [9.0, 5.0]})
    out = member_points(dsop)
    got = {(r["model_id"], r["product_id"]): (r["p10"], r["p50"], r["p90"]) for r in out.iter_rows(named=True)}
    assert got == {("member_lgbm", "A"): (3.0, 3.0, 3.0), ("member_lgbm", "B"): (4.0, 4.0, 4.0),
                   ("member_auto_ets", "A"): (6.0, 6.0, 6.0),
                   ("member_auto_theta", "A"): (9.0, 9.0, 9.0), ("member_auto_theta", "B"): (5.0, 5.0, 5.0),
                   ("member_average", "A"): (6.0, 6.0, 6.0)}  # B lacks AutoETS: no average
    assert member_points(dsop.drop("p50_lgbm", "p50_auto_ets", "p50_auto_theta")).is_empty()
