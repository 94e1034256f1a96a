"""The multi-seed table: ratios against the better peer, and every miss of the demo targets in bold."""

import polars as pl

from dsop_jobs.tools.forecast_seeds import rows


def _row(model, cadence, h, spl, bias=0.0, coverage=0.8, below=0.1, above=0.1, wape=0.3):
    return dict(model_id=model, cadence=cadence, horizon=h, spl_mean=spl, bias=bias, coverage=coverage,
                below_p10=below, above_p90=above, wape=wape)


def test_ratio_uses_the_better_peer_and_bolds_each_miss():
    table = pl.DataFrame([
        _row("dsop_lgbm", "weekly", 1, 0.90, bias=-0.02, wape=0.30),
        _row("auto_theta", "weekly", 1, 1.00), _row("auto_ets", "weekly", 1, 1.20),
        _row("moving_average", "weekly", 1, 1.10, wape=0.35),
        # the generator's own distribution: context beside the targets, never bold
        _row("oracle", "weekly", 1, 0.80, bias=-0.082, coverage=0.861, below=0.056, above=0.083),
        # every target missed at 2 weeks: ratio 0.96 > 0.95, bias 6 % > 5 %, a side at 6 %, WAPE above the MA's
        _row("dsop_lgbm", "weekly", 2, 0.96, bias=0.06, coverage=0.84, below=0.06, above=0.10, wape=0.40),
        _row("auto_theta", "weekly", 2, 1.00), _row("auto_ets", "weekly", 2, 1.50),
        _row("moving_average", "weekly", 2, 1.10, wape=0.35),
    ])
    met, missed = rows(7, table)
    assert met == ("| 7 | weekly | 1 | 0.900 | -2.0 % | 0.800 (10.0 / 10.0 %) | 0.300 vs 0.350 "
                   "| 0.861 (5.6 / 8.3 %), -8.2 % |")
    assert missed == ("| 7 | weekly | 2 | **0.960** | **+6.0 %** | **0.840 (6.0 / 10.0 %)** | **0.400 vs 0.350** | - |")


def test_a_horizon_dsop_did_not_score_is_left_out():
    table = pl.DataFrame([_row("auto_theta", "monthly", 1, 1.0), _row("auto_ets", "monthly", 1, 1.0)])
    assert rows(7, table) == []
