"""The oracle covers every product x period and is calibrated against the data it describes."""

from __future__ import annotations

import polars as pl

from .helpers import typed


def test_truth_covers_every_product_and_week(tiny):
    out, manifest = tiny
    weekly = pl.read_csv(out / "ground_truth" / "weekly_product_truth.csv", try_parse_dates=True)
    fg = typed(out, "product_master").filter(pl.col("product_type") == "finished_good")["product_id"]
    weeks = weekly["week_start"].unique().sort()
    assert weekly.height == len(fg) * len(weeks) and set(weekly["product_id"]) == set(fg)
    assert (weeks.dt.weekday() == 1).all() and str(weeks.min()) == "2025-05-12"
    assert len(weeks) == 80
    assert ((weekly["p10"] <= weekly["p50"]) & (weekly["p50"] <= weekly["p90"])).all()
    monthly = pl.read_csv(out / "ground_truth" / "monthly_product_truth.csv", try_parse_dates=True)
    assert monthly.height == len(fg) * monthly["month_start"].n_unique()
    # monthly and weekly means describe the same total
    assert abs(monthly["expected_qty"].sum() / weekly["expected_qty"].sum() - 1) < 1e-6


def test_truth_is_calibrated(tiny):
    out, _ = tiny
    weekly = pl.read_csv(out / "ground_truth" / "weekly_product_truth.csv", try_parse_dates=True)
    actual = (typed(out, "daily_order").with_columns(week_start=pl.col("order_date").dt.truncate("1w"))
              .group_by("product_id", "week_start").agg(pl.col("order_qty").sum().alias("actual")))
    j = weekly.join(actual, on=["product_id", "week_start"], how="left").with_columns(pl.col("actual").fill_null(0))
    # Planted order anomalies (ground_truth/planted_anomalies.csv) depart from the model on purpose.
    planted = pl.read_csv(out / "ground_truth" / "planted_anomalies.csv")
    j = j.filter(~pl.col("product_id").is_in(planted.filter(pl.col("kind") != "stock_mismatch")["product_id"].implode()))
    live = j.filter(pl.col("expected_qty") > 0)
    below = (live["actual"] < live["p10"]).mean()
    above = (live["actual"] > live["p90"]).mean()
    assert below < 0.16 and above < 0.16, (below, above)
    assert abs(live["actual"].sum() / live["expected_qty"].sum() - 1) < 0.1
    assert j.filter(pl.col("expected_qty") == 0)["actual"].sum() == 0
