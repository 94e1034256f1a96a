"""Drivers forecast forward over their publication gap: from the values known at the as_of only."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from dsop_assets.forecast.external_forward import nowcast_path, forward_fill, next_dates, periods_missing
from dsop_assets.forecast.features_external import external_features

SERIES = {"indpro": ("INDPRO",), "sox": ("SOX",)}
TRANSFORMS = {"indpro": ("level", "1m"), "sox": ("level",)}


def _monthly(n: int = 30, lag_days: int = 45) -> pl.DataFrame:
    """INDPRO from Jan 2022 growing 2 % a month with a wiggle, each month published ``lag_days`` after its start."""
    months = [date(2022 + m // 12, m % 12 + 1, 1) for m in range(n)]
    values = [100.0 * 1.02 ** m * (1 + 0.01 * np.sin(m)) for m in range(n)]
    return pl.DataFrame({"series_id": "INDPRO", "observation_date": months, "value": values,
                         "known_at": [d + timedelta(days=lag_days) for d in months]})


def test_periods_missing_counts_started_periods_without_a_value():
    assert periods_missing(date(2024, 10, 1), 30.5, date(2024, 10, 31)) == 0
    assert periods_missing(date(2024, 10, 1), 30.5, date(2024, 11, 30)) == 1  # November has started
    assert periods_missing(date(2024, 10, 1), 30.5, date(2024, 12, 1)) == 2
    assert next_dates(date(2024, 11, 1), 30.5, 3) == [date(2024, 12, 1), date(2025, 1, 1), date(2025, 2, 1)]


def test_a_lagging_monthly_series_is_nowcast_from_what_was_known():
    ind = _monthly()
    as_of = date(2024, 3, 31)  # February published Mar 16, March not yet: one month behind
    known = ind.filter(pl.col("known_at") <= as_of)
    assert known["observation_date"].max() == date(2024, 2, 1)
    out = external_features(ind, None, [as_of], SERIES, TRANSFORMS)
    stale = external_features(ind, None, [as_of], SERIES, TRANSFORMS, forward=False)
    nowcast = float(nowcast_path(known.filter(pl.col("observation_date") >= as_of - timedelta(days=800))["value"].to_numpy()[-24:], 3)[0])
    assert out["ext_indpro"].item() == pytest.approx(nowcast)
    assert stale["ext_indpro"].item() == pytest.approx(known["value"][-1])
    # The 1-month growth compares March's nowcast with February's published value.
    assert out["ext_indpro_g1m"].item() == pytest.approx(nowcast / known["value"][-1] - 1)
    # A 2 %-a-month series is forecast upwards, not held at February's level.
    assert nowcast > known["value"][-1]


def test_later_vintages_do_not_move_the_forecast():
    ind = _monthly(36)
    as_of = date(2024, 3, 31)
    base = external_features(ind, None, [as_of], SERIES, TRANSFORMS)
    # March's real value (known Apr 15) and a revision of February published after the as_of.
    later = pl.concat([ind, pl.DataFrame({"series_id": ["INDPRO"], "observation_date": [date(2024, 2, 1)],
                                          "value": [1.0], "known_at": [date(2024, 4, 2)]})])
    assert external_features(later, None, [as_of], SERIES, TRANSFORMS).equals(base)
    assert not external_features(later, None, [date(2024, 4, 30)], SERIES, TRANSFORMS).equals(base)


def test_daily_and_short_series_are_left_as_published():
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(60)]
    sox = pl.DataFrame({"series_id": "SOX", "observation_date": days, "value": [float(100 + i) for i in range(60)],
                        "known_at": [d + timedelta(days=1) for d in days]})
    out = external_features(pl.concat([sox, _monthly(5)]), None, [date(2024, 2, 29)], SERIES, TRANSFORMS)
    assert out["ext_sox"].item() == 100.0 + 58  # Feb 28's value, published Feb 29
    # Five months of INDPRO are too few to fit: its latest published value stands.
    assert out["ext_indpro"].item() == pytest.approx(_monthly(5)["value"][-1])


def test_forward_fill_marks_forecast_rows():
    pit = _monthly(24).select(pl.lit(date(2024, 1, 31)).alias("as_of"), pl.lit("indpro").alias("name"),
                             "observation_date", "value").filter(pl.col("observation_date") <= date(2023, 11, 1))
    out = forward_fill(pit)
    steps = out.filter(pl.col("forecast_steps") > 0)
    assert steps["observation_date"].to_list() == [date(2023, 12, 1), date(2024, 1, 1)]
    assert out.filter(pl.col("forecast_steps") == 0).drop("forecast_steps").equals(pit.sort("as_of", "name", "observation_date"))
