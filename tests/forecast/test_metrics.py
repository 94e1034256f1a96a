from datetime import date, datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from dsop_assets.forecast import metrics as m
from dsop_assets.forecast.baselines import FORECAST_SCHEMA, run_baselines
from dsop_assets.forecast.report import markdown_summary, plot_bands

Y = [10.0, 0.0, 5.0, 20.0]
F = [8.0, 2.0, 5.0, 25.0]


def test_point_metrics_by_hand():
    # |y - f| = 2, 2, 0, 5 (sum 9); sum y = 35
    assert m.wape(Y, F) == pytest.approx(9 / 35)
    # non-zero actuals only: 2/10, 0/5, 5/20 -> (0.2 + 0 + 0.25) / 3
    assert m.mape(Y, F) == pytest.approx(0.15)
    # 2*2/18, 2*2/2, 0, 2*5/45 -> (2/9 + 2 + 0 + 2/9) / 4
    assert m.smape(Y, F) == pytest.approx((2 / 9 + 2 + 2 / 9) / 4)
    assert m.smape([0.0], [0.0]) == 0.0
    # mean |y - f| = 9/4, scale 2 -> 1.125
    assert m.mase(Y, F, 2.0) == pytest.approx(1.125)
    # sum(f - y) = 40 - 35 = 5
    assert m.bias(Y, F) == pytest.approx(5 / 35)


def test_pinball_and_coverage_by_hand():
    # alpha .9: y - q = 2, -2, 0, -5 -> max(.9d, -.1d) = 1.8, .2, 0, .5 -> mean 2.5/4
    assert m.pinball(Y, F, 0.9) == pytest.approx(0.625)
    # alpha .1: max(.1d, -.9d) = .2, 1.8, 0, 4.5 -> mean 6.5/4
    assert m.pinball(Y, F, 0.1) == pytest.approx(1.625)
    # 10 in [5,12], 0 in [0,1], 5 not in [6,9], 20 in [15,30]
    assert m.coverage(Y, [5, 0, 6, 15], [12, 1, 9, 30]) == 0.75


WEEK = [date(2024, 1, 1) + timedelta(weeks=i) for i in range(8)]


def history_frame(product: str, qty: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {"level": "product", "product_id": product, "customer_id": "ALL", "period_start": WEEK[: len(qty)], "qty": qty}
    )


def forecast_frame(product: str, rows: list[tuple[int, float, float, float]], origin: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        [
            ("m1", "1", "weekly", "product", product, "ALL", WEEK[origin], WEEK[origin + h], h, p10, p50, p90,
             datetime(2024, 3, 1, tzinfo=timezone.utc))
            for h, p10, p50, p90 in rows
        ],
        schema=FORECAST_SCHEMA, orient="row",
    )


def test_score_forecasts_by_hand():
    # History up to the origin (week 3): 4, 6, 5, 9 -> naive steps 2, 1, 4 -> scale 7/3.
    # Weeks 4-6 (actuals 10, 0, 0) are in the same frame; they must not enter the scale.
    history = history_frame("A", [4, 6, 5, 9, 10, 0, 0])
    forecasts = forecast_frame("A", [(1, 7, 9, 12), (2, 6, 9, 13), (3, 1, 2, 3), (4, 1, 2, 3)])  # h=4: future
    scores = m.score_forecasts(
        forecasts, history, history, group_by=["model_id", "product_group"],
        product_groups=pl.DataFrame({"product_id": ["A"], "product_group": ["slurry"]}),
    )
    assert scores["product_group"].to_list() == ["ALL", "slurry"]
    row = scores.filter(pl.col("product_group") == "slurry").row(0, named=True)
    # scored rows: actual 10 (h1, P50 9), 0 (h2, P50 9), 0 (h3, P50 2)
    assert row["n"] == 3 and row["n_scaled"] == 3
    assert row["wape"] == pytest.approx((1 + 9 + 2) / 10)
    assert row["mape"] == pytest.approx(0.1)
    assert row["smape"] == pytest.approx((2 / 19 + 2 + 2) / 3)
    assert row["mase"] == pytest.approx((1 + 9 + 2) / (7 / 3) / 3)
    assert row["bias"] == pytest.approx((9 + 9 + 2 - 10) / 10)
    assert row["coverage"] == pytest.approx(1 / 3)  # 10 in [7,12]; 0 not in [6,13] nor [1,3]
    # pinball .1: d = 3, -6, -1 -> .3, 5.4, .9; .5: .5, 4.5, 1; .9: d = -2, -13, -3 -> .2, 1.3, .3
    spl10, spl50, spl90 = (6.6 / (7 / 3) / 3, 6.0 / (7 / 3) / 3, 1.8 / (7 / 3) / 3)
    assert (row["spl_p10"], row["spl_p50"], row["spl_p90"]) == pytest.approx((spl10, spl50, spl90))
    assert row["spl_mean"] == pytest.approx((spl10 + spl50 + spl90) / 3)
    overall = scores.filter(pl.col("product_group") == "ALL").drop("product_group")
    assert overall.equals(scores.filter(pl.col("product_group") == "slurry").drop("product_group"))


def test_score_forecasts_matches_the_plain_functions():
    rng = np.random.default_rng(0)
    history = pl.concat([history_frame(p, list(rng.poisson(6, 8).astype(float) + 1)) for p in "ABC"])
    forecasts = pl.concat(
        [forecast_frame(p, [(h, *sorted(rng.uniform(0, 12, 3))) for h in (1, 2, 3)]) for p in "ABC"]
    )
    scores = m.score_forecasts(forecasts, history, history)
    rows = m.scored_rows(forecasts, history, history)
    for horizon in (1, 2, 3):
        got = scores.filter(pl.col("horizon") == horizon).row(0, named=True)
        r = rows.filter(pl.col("horizon") == horizon)
        y, f = r["actual"].to_numpy(), r["p50"].to_numpy()
        scale = r["scale"].to_numpy()
        assert got["wape"] == pytest.approx(m.wape(y, f))
        assert got["mase"] == pytest.approx(m.mase(y, f, scale))
        assert got["smape"] == pytest.approx(m.smape(y, f))
        assert got["coverage"] == pytest.approx(m.coverage(y, r["p10"], r["p90"]))
        assert got["spl_p90"] == pytest.approx(
            np.mean([m.pinball(a, q, 0.9) / s for a, q, s in zip(y, r["p90"], scale)])
        )
        assert got["n"] == 3 and got["product_group"] == "ALL"


def test_zero_scale_rows_are_left_out_of_scaled_metrics():
    history = history_frame("A", [5, 5, 5, 5, 5])
    scores = m.score_forecasts(forecast_frame("A", [(1, 4, 5, 6)]), history, history)
    row = scores.row(0, named=True)
    assert row["n"] == 1 and row["n_scaled"] == 0 and row["mase"] is None and row["wape"] == 0.0


def test_mixed_cadences_need_a_cadence_column():
    history = history_frame("A", [4, 6, 5, 9, 10])
    forecasts = pl.concat([forecast_frame("A", [(1, 7, 9, 12)]),
                           forecast_frame("A", [(1, 7, 9, 12)]).with_columns(cadence=pl.lit("monthly"))])
    with pytest.raises(ValueError, match="cadence"):
        m.score_forecasts(forecasts, history, history)
    tagged = history.with_columns(cadence=pl.lit("weekly"))
    assert m.score_forecasts(forecasts, tagged, tagged)["cadence"].to_list() == ["weekly"]


def test_plot_and_markdown(tmp_path):
    weeks = [date(2023, 1, 2) + timedelta(weeks=i) for i in range(70)]
    rng = np.random.default_rng(0)
    weekly = pl.DataFrame({"level": "product", "product_id": np.repeat(["A", "B"], 70), "customer_id": "ALL",
                           "period_start": weeks * 2, "qty": rng.poisson(8, 140).astype(float) + 1})
    monthly = (weekly.with_columns(period_start=pl.col("period_start").dt.truncate("1mo"))
               .group_by("level", "product_id", "customer_id", "period_start").agg(pl.col("qty").sum()))
    months = sorted(monthly["period_start"].unique())
    forecasts = pl.concat([
        run_baselines(weekly, weeks[-12:], 4, "weekly", models=["moving_average"]),
        run_baselines(monthly, months[-4:-1], 2, "monthly", models=["moving_average"]),
    ])
    actuals = pl.concat([weekly.with_columns(cadence=pl.lit("weekly")),
                         monthly.with_columns(cadence=pl.lit("monthly"))], how="diagonal")
    path = plot_bands(forecasts, actuals, ["A", "B"], tmp_path / "plots" / "bands.png")
    assert path.exists() and path.read_bytes()[:4] == b"\x89PNG"
    assert plot_bands(forecasts, actuals, ["A"], tmp_path / "fan.png", horizon=None).stat().st_size > 1000
    text = markdown_summary(m.score_forecasts(forecasts, actuals, actuals))
    lines = text.splitlines()
    assert lines[0].startswith("| model_id | cadence | level | horizon | n | wape |")
    assert len(lines) == 2 + 4 + 2  # header, rule, weekly h1..4, monthly h1..2


def test_dense_grid_scores_zero_periods_by_hand():
    # Sparse history: weeks 0 and 2 have orders (4, 6), week 4 has 10; weeks 1, 3, 5, 6 have no row.
    history = pl.DataFrame({"level": "product", "product_id": "A", "customer_id": "ALL",
                            "period_start": [WEEK[0], WEEK[2], WEEK[4]], "qty": [4.0, 6.0, 10.0]})
    # Origin week 3: dense history 4, 0, 6, 0 -> steps 4, 6, 6 -> scale 16/3 (not 2 from "4 then 6").
    forecasts = forecast_frame("A", [(1, 7, 9, 12), (2, 1, 2, 3), (3, 0, 1, 2), (4, 0, 1, 2)])
    # The export ends on Sunday of week 6: weeks 4, 5, 6 are complete (5 and 6 with zero demand),
    # week 7 (h4) is the future.
    through = WEEK[6] + timedelta(days=6)
    rows = m.scored_rows(forecasts, history, history, through=through)
    assert rows.sort("horizon")["actual"].to_list() == [10.0, 0.0, 0.0]
    assert rows["scale"].to_list() == pytest.approx([16 / 3] * 3)
    row = m.score_forecasts(forecasts, history, history, group_by=["model_id"], through=through).row(0, named=True)
    assert row["n"] == 3 and row["n_scaled"] == 3
    assert row["wape"] == pytest.approx((1 + 2 + 1) / 10)
    assert row["bias"] == pytest.approx((9 + 2 + 1 - 10) / 10)
    assert row["mase"] == pytest.approx((4 / 3) / (16 / 3))
    # pinball .5 = |d| / 2: .5, 1, .5 -> mean 2/3, over scale 16/3 -> 1/8
    assert row["spl_p50"] == pytest.approx(1 / 8)
    # 10 in [7, 12]; 0 below [1, 3]; 0 in [0, 2]
    assert row["coverage"] == pytest.approx(2 / 3)
    assert (row["below_p10"], row["above_p90"]) == pytest.approx((1 / 3, 0.0))
    # One day earlier week 6 is still running and is not scored.
    assert m.scored_rows(forecasts, history, history, through=through - timedelta(days=1)).height == 2


def test_last_complete_period():
    assert m.last_complete_start(date(2026, 11, 29), "weekly") == date(2026, 11, 23)  # a Sunday
    assert m.last_complete_start(date(2026, 11, 28), "weekly") == date(2026, 11, 16)
    assert m.last_complete_start(date(2026, 11, 29), "monthly") == date(2026, 10, 1)
    assert m.last_complete_start(date(2026, 11, 30), "monthly") == date(2026, 11, 1)
    assert m.last_complete_start(date(2027, 1, 30), "monthly") == date(2026, 12, 1)


def test_naive_scale_uses_consecutive_periods():
    history = pl.DataFrame({"level": "product", "product_id": "A", "customer_id": "ALL",
                            "period_start": [WEEK[1], WEEK[3]], "qty": [3.0, 3.0]})
    scale = m.naive_scale(history, through=WEEK[3] + timedelta(days=6))
    # dense from the first order: 3, 0, 3 -> steps 3, 3; the week before the first order is not history
    assert scale["origin_date"].to_list() == [WEEK[1], WEEK[2], WEEK[3]]
    assert scale["scale"].to_list()[1:] == pytest.approx([3.0, 3.0])
    assert scale["scale"][0] is None
