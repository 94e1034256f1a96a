"""Window features depend on the window's values only, so a one-origin refresh builds the rows of a
full backfill bit for bit, and the windows agree with their plain definitions."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from dsop_assets.forecast.features import build_monthly_features, build_weekly_features
from dsop_assets.forecast.features_windows import window_mean, window_std, window_sum
from tests.forecast.test_features import START, synthetic_erp, weekly_origins


def test_windows_match_their_definitions_near_and_after_the_panel_start():
    rng = np.random.default_rng(3)
    periods, width = 9, 4
    grid = rng.uniform(0, 10, (3, periods)).round(3)
    for row in range(3):
        for t in range(periods):
            window = grid[row, max(0, t - width + 1): t + 1]  # fewer values near the start
            flat = row * periods + t
            assert window_sum(grid.ravel(), periods, width)[flat] == pytest.approx(window.sum(), rel=1e-15)
            assert window_mean(grid.ravel(), periods, width)[flat] == pytest.approx(window.mean(), rel=1e-15)
            std = window_std(grid.ravel(), periods, width)[flat]
            if len(window) < 2:
                assert np.isnan(std)
            else:
                assert std == pytest.approx(window.std(ddof=1), rel=1e-12)


def test_a_window_sum_is_the_same_bits_wherever_the_panel_starts():
    # Values whose running sums drift: a sliding add-and-subtract total leaves 1e-17-sized residues
    # that depend on the values that left the window long ago.
    rng = np.random.default_rng(11)
    values = rng.uniform(0, 1, 200) * 10.0 ** rng.integers(-3, 4, 200)
    width = 13
    whole = window_sum(values, 200, width)
    for start in (1, 50, 187):
        cut = window_sum(values[start:], 200 - start, width)
        # Periods whose whole window lies inside the later panel.
        assert np.array_equal(whole[start + width - 1:], cut[width - 1:])
        assert np.array_equal(window_std(values, 200, width)[start + width - 1:],
                              window_std(values[start:], 200 - start, width)[width - 1:])


def test_a_window_of_zeros_after_demand_is_exactly_zero():
    values = np.array([0.1, 0.7, 0.2, 0.0, 0.0, 0.0, 0.0])
    assert window_sum(values, 7, 3)[-1] == 0.0
    assert window_mean(values, 7, 3)[-1] == 0.0
    assert window_std(values, 7, 3)[-1] == 0.0


def _fractional(data: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Fractional quantities and prices (drift-prone), and a pair whose two orders were both placed
    long before the last origin's panel, the first for delivery just after that origin (so it is in
    the book), the second, its last demand, delivered long ago."""
    orders = data["orders"].with_columns(
        order_qty=pl.col("order_qty") * 0.37 + 0.013, unit_price=pl.col("unit_price") * 1.0071)
    extra = pl.DataFrame({
        "order_id": ["OLD-1", "OLD-2", "OLD-3"],
        "order_date": [START + timedelta(days=10), START + timedelta(days=12), START + timedelta(days=100)],
        "customer_id": ["C9", "C8", "C8"], "product_id": ["P1", "P2", "P2"], "order_qty": [5.5, 7.25, 3.0],
        "unit_price": [99.9, 101.3, 101.3], "currency": ["KRW", "KRW", "KRW"],
        "requested_delivery_date": [START + timedelta(days=20), date(2024, 11, 10), START + timedelta(days=110)],
    }).with_columns(pl.col("order_date", "requested_delivery_date").cast(orders.schema["order_date"]))
    return data | {"orders": pl.concat([orders, extra.select(orders.columns)])}


@pytest.mark.parametrize("cadence", ["weekly", "monthly"])
def test_one_origin_builds_the_rows_of_a_full_build(cadence):
    data = _fractional(synthetic_erp(seed=5, days=560))
    build = build_weekly_features if cadence == "weekly" else build_monthly_features
    if cadence == "weekly":
        origins = weekly_origins(70)
    else:
        origins = [date(2023 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(2, 19)]
    args = [data[k] for k in ("orders", "revenue", "products", "customers", "indicators", "fx")]
    full = build(*args, origins)
    for origin in (origins[0], origins[len(origins) // 2], origins[-1]):
        alone = build(*args, [origin])
        assert alone.height
        assert alone.equals(full.filter(pl.col("origin_date") == origin)), origin
    last = full.filter(pl.col("origin_date") == origins[-1])
    # The long-ago order keeps its pair in the book and in the store, and its periods since the last
    # order count from that order, which lies before a one-origin panel.
    booked = last.filter(pl.col("customer_id") == "C8", pl.col("product_id") == "P2")
    assert booked.height == 1 and booked[f"book_{6 if cadence == 'monthly' else 8}"].item() == 7.25
    assert booked["periods_since_last"].item() > (52 if cadence == "weekly" else 12)


@pytest.mark.parametrize("cadence", ["weekly", "monthly"])
def test_a_build_from_the_last_year_of_lines_and_the_history_summary_is_the_full_build(cadence):
    """The feature asset reads only recent order lines plus ``ORDER_HISTORY_SQL``'s summary."""
    import duckdb

    from dsop_assets.forecast.config import MONTHLY_SPEC, WEEKLY_SPEC
    from dsop_assets.forecast.features import ORDER_HISTORY_SQL, book_start, feature_batches, panel_start

    data = _fractional(synthetic_erp(seed=7, days=560))
    spec = WEEKLY_SPEC if cadence == "weekly" else MONTHLY_SPEC
    origin, until = (date(2024, 10, 28), date(2024, 11, 4)) if cadence == "weekly" else (date(2024, 6, 1), date(2024, 7, 1))
    since, due_from = panel_start(spec, origin), book_start(spec, origin)
    orders = data["orders"]
    con = duckdb.connect()
    con.register("daily_order", orders.to_arrow())
    history = con.execute(ORDER_HISTORY_SQL, {"since": since, "until": until}).pl()
    recent = orders.filter((pl.col("order_date") >= since) | (pl.col("requested_delivery_date") >= due_from))
    revenue = data["revenue"].filter(pl.col("revenue_date") >= since)
    assert recent.height < orders.height  # the summary stands for the older lines
    rest = [data[k] for k in ("products", "customers", "indicators", "fx")]
    whole = pl.concat(feature_batches(spec, orders, data["revenue"], *rest, [origin]))
    trimmed = pl.concat(feature_batches(spec, recent, revenue, *rest, [origin], order_history=history))
    order = ["level", "product_id", "customer_id"]
    assert trimmed.sort(order).equals(whole.sort(order))
