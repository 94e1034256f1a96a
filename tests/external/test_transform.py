from datetime import date, datetime

import polars as pl

from dsop_assets.external import transform as tf

SERIES = ["provider", "series_id"]
T1 = datetime(2024, 3, 20, 6, 0)
T2 = datetime(2024, 4, 20, 6, 0)


def incoming(rows, known=True):
    frame = pl.DataFrame(
        rows,
        schema={
            "provider": pl.String,
            "series_id": pl.String,
            "frequency": pl.String,
            "observation_date": pl.Date,
            "value": pl.Float64,
            "known_at": pl.Date,
        },
        orient="row",
    )
    return tf.date_by_lag(frame, "observation_date", pl.lit(20), pl.col("frequency"), date(2024, 4, 20))


def merge(existing, new, today, at):
    return tf.merge_vintages(existing, new, SERIES, "observation_date", "value", today, at)


def test_lag_dates_undated_rows_and_never_after_today():
    frame = incoming(
        [
            ("ecos", "901Y009", "M", date(2024, 1, 1), 1.0, None),
            ("ecos", "901Y009", "M", date(2024, 4, 1), 2.0, None),
            ("eia", "RWTC", "D", date(2024, 3, 1), 3.0, date(2024, 3, 2)),
        ]
    )
    assert frame["known_at"].to_list() == [date(2024, 2, 20), date(2024, 4, 20), date(2024, 3, 2)]
    assert frame["_exact"].to_list() == [False, False, True]


def test_vintage_revisions_add_rows_without_duplicates():
    first = merge(
        pl.DataFrame(),
        incoming([("fred", "INDPRO", "M", date(2024, 1, 1), 102.6, date(2024, 2, 15))]),
        date(2024, 3, 20),
        T1,
    )
    assert first.height == 1 and first["is_first_release"].to_list() == [True]
    # FRED clips realtime_start to the requested start: the same value re-dated adds nothing.
    revised = incoming(
        [
            ("fred", "INDPRO", "M", date(2024, 1, 1), 102.6, date(2024, 3, 1)),
            ("fred", "INDPRO", "M", date(2024, 1, 1), 102.4, date(2024, 3, 15)),
        ]
    )
    second = merge(first, revised, date(2024, 4, 20), T2)
    assert second.sort("known_at")["value"].to_list() == [102.6, 102.4]
    assert second.sort("known_at")["is_first_release"].to_list() == [True, False]
    assert second.sort("known_at")["loaded_at"].to_list() == [T1, T2]
    again = merge(second, revised, date(2024, 4, 20), T2)
    assert again.sort("known_at").equals(second.sort("known_at"))


def test_same_key_updates_in_place():
    stored = merge(
        pl.DataFrame(),
        incoming([("fred", "X", "M", date(2024, 1, 1), 1.0, date(2024, 2, 1))]),
        date(2024, 3, 1),
        T1,
    )
    updated = merge(
        stored,
        incoming([("fred", "X", "M", date(2024, 1, 1), 1.5, date(2024, 2, 1))]),
        date(2024, 3, 1),
        T2,
    )
    assert updated.height == 1 and updated["value"].to_list() == [1.5]


def test_undated_source_revision_becomes_a_vintage_dated_today():
    stored = merge(
        pl.DataFrame(),
        incoming([("ecos", "901Y009", "M", date(2024, 1, 1), 113.0, None)]),
        date(2024, 3, 1),
        T1,
    )
    assert stored["known_at"].to_list() == [date(2024, 2, 20)]
    same = merge(
        stored,
        incoming([("ecos", "901Y009", "M", date(2024, 1, 1), 113.0, None)]),
        date(2024, 4, 20),
        T2,
    )
    assert same.height == 1 and same["loaded_at"].to_list() == [T1]
    changed = merge(
        stored,
        incoming([("ecos", "901Y009", "M", date(2024, 1, 1), 113.4, None)]),
        date(2024, 4, 20),
        T2,
    )
    rows = changed.sort("known_at")
    assert rows["known_at"].to_list() == [date(2024, 2, 20), date(2024, 4, 20)]
    assert rows["value"].to_list() == [113.0, 113.4]
    assert rows["is_first_release"].to_list() == [True, False]


def test_fetch_since_subtracts_the_revision_window():
    stored = pl.DataFrame(
        {
            "series_id": ["A", "A", "B"],
            "observation_date": [date(2024, 1, 1), date(2024, 5, 1), date(2023, 1, 1)],
        }
    )
    since = tf.fetch_since(stored, ["series_id"], "observation_date", 90, date(2023, 6, 1))
    assert since == {("A",): date(2024, 2, 1), ("B",): date(2023, 6, 1)}


def test_fill_calendar_days_forward_fills_weekends():
    quotes = pl.DataFrame(
        {
            "rate_date": [date(2024, 1, 5), date(2024, 1, 8)],
            "currency": ["USD", "USD"],
            "krw_per_unit": [1310.0, 1312.0],
            "source": ["api", "api"],
            "provider": ["ecos", "ecos"],
            "known_at": [date(2024, 1, 5), date(2024, 1, 8)],
        }
    )
    filled = tf.fill_calendar_days(quotes, until=date(2024, 1, 9))
    assert filled["rate_date"].to_list() == [date(2024, 1, d) for d in range(5, 10)]
    assert filled["krw_per_unit"].to_list() == [1310.0, 1310.0, 1310.0, 1312.0, 1312.0]
    assert filled["is_filled"].to_list() == [False, True, True, False, True]
    assert filled["known_at"].to_list()[1] == date(2024, 1, 5)
