from datetime import date

import polars as pl
import pytest

from dsop_assets.external import growth_as_of, indicators_as_of, krw_rate_as_of


def vintages():
    rows = [
        # series, observation, value, known_at
        ("INDPRO", date(2023, 1, 1), 100.0, date(2023, 2, 15)),
        ("INDPRO", date(2023, 12, 1), 108.0, date(2024, 1, 17)),
        ("INDPRO", date(2024, 1, 1), 110.0, date(2024, 2, 15)),
        ("INDPRO", date(2024, 1, 1), 109.0, date(2024, 3, 15)),  # revision
        ("INDPRO", date(2024, 2, 1), 111.0, date(2024, 3, 15)),
        ("SOX", date(2024, 2, 29), 50.0, date(2024, 3, 1)),
    ]
    return pl.DataFrame(
        [
            {
                "provider": "fred" if s == "INDPRO" else "market",
                "series_id": s,
                "observation_date": o,
                "value": v,
                "known_at": k,
            }
            for s, o, v, k in rows
        ]
    )


def test_value_known_at_each_origin():
    out = indicators_as_of(
        vintages(), [date(2024, 2, 14), date(2024, 2, 15), date(2024, 3, 14), date(2024, 3, 15)]
    )
    indpro = out.filter(pl.col("series_id") == "INDPRO").sort("as_of_date")
    assert indpro["observation_date"].to_list() == [
        date(2023, 12, 1),
        date(2024, 1, 1),
        date(2024, 1, 1),
        date(2024, 2, 1),
    ]
    assert indpro["value"].to_list() == [108.0, 110.0, 110.0, 111.0]
    sox = out.filter(pl.col("series_id") == "SOX")
    assert sox["as_of_date"].to_list() == [date(2024, 3, 14), date(2024, 3, 15)]  # nothing known before
    assert (out["known_at"] <= out["as_of_date"]).all()


def test_growth_uses_the_vintage_known_at_t():
    out = growth_as_of(vintages(), pl.Series([date(2024, 3, 20), date(2024, 2, 20)]))
    indpro = out.filter(pl.col("series_id") == "INDPRO").sort("as_of_date")
    # Feb 20: Jan first release 110 vs Dec 108; no Jan 2023 base known? it is (100) -> yoy 10%.
    assert indpro["mom"].to_list()[0] == pytest.approx(110 / 108 - 1)
    assert indpro["yoy"].to_list()[0] == pytest.approx(0.10)
    # Mar 20: Feb 111 vs revised Jan 109.
    assert indpro["mom"].to_list()[1] == pytest.approx(111 / 109 - 1)
    assert indpro["yoy"].to_list()[1] is None


def test_krw_rate_as_of_ignores_filled_rows_and_unpublished_quotes():
    fx = pl.DataFrame(
        {
            "rate_date": [date(2024, 1, 5), date(2024, 1, 6), date(2024, 1, 8)],
            "currency": ["USD"] * 3,
            "krw_per_unit": [1310.0, 1310.0, 1312.0],
            "is_filled": [False, True, False],
            "known_at": [date(2024, 1, 5), date(2024, 1, 5), date(2024, 1, 8)],
        }
    )
    out = krw_rate_as_of(fx, [date(2024, 1, 4), date(2024, 1, 7), date(2024, 1, 8)])
    assert out["as_of_date"].to_list() == [date(2024, 1, 7), date(2024, 1, 8)]
    assert out["krw_per_unit"].to_list() == [1310.0, 1312.0]
    assert out["rate_date"].to_list() == [date(2024, 1, 5), date(2024, 1, 8)]
