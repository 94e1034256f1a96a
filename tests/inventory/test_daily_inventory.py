"""Daily inventory on a hand-built case: every flow, the BOM consumption and the reconciliation."""

from datetime import date

import polars as pl
import pytest

from dsop_assets.inventory.daily_inventory import DAILY_COLUMNS, RECONCILIATION_COLUMNS, estimate_daily_inventory

D = date


def _case():
    snapshots = pl.DataFrame(
        {
            "snapshot_date": [D(2024, 1, 1), D(2024, 2, 1), D(2024, 1, 1), D(2024, 2, 1)],
            "product_id": ["FG", "FG", "M", "M"],
            "on_hand_qty": [100.0, 90.0, 1000.0, 980.0],
        }
    )
    production = pl.DataFrame(
        {"production_date": [D(2024, 1, 10)], "product_id": ["FG"], "produced_qty": [20.0]}
    )
    # One received line, one open line (ignored), one receipt of an item never counted.
    receipts = pl.DataFrame(
        {
            "po_id": ["P1", "P2", "P3"],
            "product_id": ["M", "M", "N"],
            "received_date": [D(2024, 1, 20), None, D(2024, 1, 3)],
            "received_qty": [40.0, None, 5.0],
        }
    )
    shipments = pl.DataFrame(
        {
            "revenue_date": [D(2024, 1, 5), D(2024, 2, 3)],
            "product_id": ["FG", "FG"],
            "shipped_qty": [30.0, 10.0],
        }
    )
    # 2 per unit at 20 % scrap -> 2.5 gross per unit of FG.
    bom = pl.DataFrame(
        {"parent_product_id": ["FG"], "component_product_id": ["M"], "qty_per": [2.0], "scrap_rate": [0.2]}
    )
    return snapshots, production, receipts, shipments, bom


def _day(daily: pl.DataFrame, item: str, day: date) -> dict:
    return daily.filter((pl.col("item_id") == item) & (pl.col("date") == day)).row(0, named=True)


def test_flows_and_bom_consumption():
    daily, _ = estimate_daily_inventory(*_case(), start=D(2024, 1, 1), end=D(2024, 2, 5))
    assert daily.columns == DAILY_COLUMNS
    assert daily.filter(pl.col("item_id") == "FG").height == 35  # every day of [start, end)

    assert _day(daily, "FG", D(2024, 1, 1))["opening_qty"] == 100.0
    ship = _day(daily, "FG", D(2024, 1, 5))
    assert (ship["opening_qty"], ship["shipped_qty"], ship["closing_qty"]) == (100.0, 30.0, 70.0)
    made = _day(daily, "FG", D(2024, 1, 10))
    assert (made["produced_qty"], made["closing_qty"]) == (20.0, 90.0)

    used = _day(daily, "M", D(2024, 1, 10))
    assert used["consumed_qty"] == pytest.approx(50.0)  # 20 x 2 / (1 - 0.2)
    assert used["closing_qty"] == pytest.approx(950.0)
    got = _day(daily, "M", D(2024, 1, 20))
    assert (got["received_qty"], got["closing_qty"]) == (40.0, pytest.approx(990.0))

    # A count resets the running figure before that day's movements.
    feb1 = _day(daily, "M", D(2024, 2, 1))
    assert (feb1["opening_qty"], feb1["snapshot_date"]) == (980.0, D(2024, 2, 1))
    assert _day(daily, "FG", D(2024, 2, 3))["closing_qty"] == 80.0

    # Never counted: starts from zero with no snapshot date.
    n = _day(daily, "N", D(2024, 1, 3))
    assert (n["opening_qty"], n["closing_qty"], n["snapshot_date"]) == (0.0, 5.0, None)


def test_closing_is_opening_plus_flows_everywhere():
    daily, _ = estimate_daily_inventory(*_case(), start=D(2024, 1, 1), end=D(2024, 2, 5))
    balance = (
        pl.col("opening_qty") + pl.col("produced_qty") + pl.col("received_qty")
        - pl.col("shipped_qty") - pl.col("consumed_qty") - pl.col("closing_qty")
    )  # fmt: skip
    assert daily.select(balance.abs().max()).item() < 1e-9


def test_reconciliation_against_next_snapshot():
    _, rec = estimate_daily_inventory(*_case(), start=D(2024, 1, 1), end=D(2024, 2, 5))
    assert rec.columns == RECONCILIATION_COLUMNS
    fg = rec.filter(pl.col("item_id") == "FG").row(0, named=True)
    assert (fg["estimated_qty"], fg["snapshot_qty"], fg["error_qty"], fg["error_pct"]) == (90.0, 90.0, 0.0, 0.0)
    m = rec.filter(pl.col("item_id") == "M").row(0, named=True)
    assert m["snapshot_date"] == D(2024, 2, 1) and m["base_snapshot_date"] == D(2024, 1, 1)
    assert m["error_qty"] == pytest.approx(10.0)  # estimate 990 ran 10 above the count of 980
    assert m["error_pct"] == pytest.approx(100 * 10 / 980)
    assert rec.filter(pl.col("item_id") == "N").height == 0  # no count to start from


def test_window_starting_mid_month_uses_earlier_snapshot_and_counts_on_end_day():
    daily, rec = estimate_daily_inventory(*_case(), start=D(2024, 1, 15), end=D(2024, 2, 1))
    assert daily["date"].min() == D(2024, 1, 15) and daily["date"].max() == D(2024, 1, 31)
    first = _day(daily, "FG", D(2024, 1, 15))
    assert (first["opening_qty"], first["snapshot_date"]) == (90.0, D(2024, 1, 1))
    # The count dated on `end` still meets the estimate of the last day in the window.
    assert set(rec["item_id"]) == {"FG", "M"}


def test_zero_count_gives_null_pct_and_bad_scrap_raises():
    snapshots, production, receipts, shipments, bom = _case()
    snapshots = snapshots.with_columns(
        pl.when(pl.col("snapshot_date") == D(2024, 2, 1)).then(0.0).otherwise(pl.col("on_hand_qty")).alias("on_hand_qty")
    )
    _, rec = estimate_daily_inventory(snapshots, production, receipts, shipments, bom, D(2024, 1, 1), D(2024, 2, 2))
    assert rec["error_pct"].null_count() == rec.height
    with pytest.raises(ValueError, match="scrap_rate"):
        estimate_daily_inventory(
            snapshots, production, receipts, shipments, bom.with_columns(scrap_rate=pl.lit(1.0)), D(2024, 1, 1), D(2024, 2, 2)
        )


def test_empty_window():
    daily, rec = estimate_daily_inventory(*_case(), start=D(2024, 2, 1), end=D(2024, 2, 1))
    assert daily.height == 0 and rec.height == 0 and daily.columns == DAILY_COLUMNS


def test_seed_scale_is_complete():
    """~700 items x ~1100 days: every item-day estimated, every count reconciled (its speed is a benchmark,
    `dsop bench`, not a timed test: the shared machine's load decided this test's outcome)."""
    import numpy as np

    rng = np.random.default_rng(7)
    start, end = D(2023, 1, 1), D(2026, 1, 5)
    days = pl.date_range(start, end, "1d", closed="left", eager=True)
    goods, materials = [f"FG{i:03d}" for i in range(200)], [f"M{i:03d}" for i in range(500)]
    months = days.filter(days.dt.day() == 1)
    snapshots = pl.DataFrame({"product_id": goods + materials}).join(
        pl.DataFrame({"snapshot_date": months}), how="cross"
    ).with_columns(on_hand_qty=pl.lit(1000.0))
    production = pl.DataFrame(
        {"product_id": rng.choice(goods, 60_000), "production_date": days.sample(60_000, with_replacement=True, seed=1)}
    ).unique(["product_id", "production_date"]).with_columns(produced_qty=pl.lit(10.0))
    shipments = pl.DataFrame(
        {"product_id": rng.choice(goods, 150_000), "revenue_date": days.sample(150_000, with_replacement=True, seed=2),
         "shipped_qty": rng.random(150_000) * 10}
    )  # fmt: skip
    receipts = pl.DataFrame(
        {"product_id": rng.choice(materials, 20_000), "received_date": days.sample(20_000, with_replacement=True, seed=3),
         "received_qty": rng.random(20_000) * 100}
    )  # fmt: skip
    bom = pl.DataFrame(
        {"parent_product_id": np.repeat(goods, 5), "component_product_id": rng.choice(materials, 1000),
         "qty_per": rng.random(1000), "scrap_rate": rng.random(1000) * 0.05}
    ).unique(["parent_product_id", "component_product_id"])  # fmt: skip

    daily, rec = estimate_daily_inventory(snapshots, production, receipts, shipments, bom, start, end)
    assert daily.height == 700 * (end - start).days
    assert rec.height == 700 * (months.len() - 1)  # every count after the first meets an estimate
