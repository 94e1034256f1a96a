"""The paired SPL ratio compares dsop and a peer only on the rows both forecast."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from dsop_assets.forecast.accuracy import paired_spl


def test_paired_ratio_uses_only_rows_both_models_forecast():
    hist = pl.DataFrame({
        "cadence": "monthly", "level": "product", "customer_id": "ALL",
        "product_id": ["A"] * 4 + ["B"] * 4,
        "period_start": [date(2024, m, 1) for m in (1, 2, 3, 4)] * 2,
        "qty": [10.0, 20.0, 10.0, 20.0, 0.0, 4.0, 0.0, 0.0],  # A: scale 10 at the origin; B: scale 2
    })
    row = dict(cadence="monthly", level="product", customer_id="ALL", origin_date=date(2024, 3, 1),
               target_start=date(2024, 4, 1), horizon=1)
    forecasts = pl.DataFrame([
        {**row, "model_id": "dsop_lgbm", "product_id": "A", "p10": 20.0, "p50": 20.0, "p90": 20.0},  # exact
        {**row, "model_id": "auto_ets", "product_id": "A", "p10": 10.0, "p50": 10.0, "p90": 10.0},
        {**row, "model_id": "auto_ets", "product_id": "B", "p10": 0.0, "p50": 0.0, "p90": 0.0},  # dsop has no B row
    ])
    out = paired_spl(forecasts, hist, date(2024, 4, 30))
    assert out.height == 1 and out["n"][0] == 1
    # Peer on A: pinball of 10 short at 0.1/0.5/0.9 = 1, 5, 9 -> mean 5, over scale 10 = 0.5; dsop 0.
    assert out["spl_peer"][0] == pytest.approx(0.5) and out["spl_dsop"][0] == 0.0


def test_targets_report_sets_the_generators_own_coverage_and_bias_beside_dsops():
    from dsop_assets.forecast.accuracy import targets_report

    def score(model, coverage, below, above, bias):
        return dict(model_id=model, cadence="weekly", level="product", product_group="ALL", horizon=1, spl_mean=0.3,
                    coverage=coverage, below_p10=below, above_p90=above, bias=bias, wape=0.4, mape=0.5)

    scores = pl.DataFrame([score("dsop_lgbm", 0.84, 0.07, 0.09, 0.01), score("oracle", 0.861, 0.056, 0.083, -0.082)])
    report = targets_report(scores, scores.clear())
    assert report["weekly_h1_oracle_coverage_below_above"] == "0.861 (0.056 below P10, 0.083 above P90)"
    assert report["weekly_h1_oracle_p50_bias"] == -0.082
    assert report["weekly_h1_coverage_below_above"] == "0.840 (0.070 below P10, 0.090 above P90)"
