"""Daily on-hand estimate between month-start counts, and how far it drifts from the next count.

The ERP only counts stock at the start of each month (before that day's movements). Planning needs
a daily figure, so each day is rebuilt from the latest count plus the movements since:

    closing = opening + produced + received - shipped - consumed
    opening(day) = snapshot on_hand_qty                   if a count was taken that day
                 = closing(day - 1)                        otherwise

Consumption is one BOM level deep: producing a parent consumes ``qty_per / (1 - scrap_rate)`` of
each *direct* component on the production day. Intermediates are themselves produced (and so
consume their own components) when ``daily_production`` records them, which is how multi-level
BOMs are covered without exploding the tree twice.

Choices:
* Estimates are **not** clipped at zero: a negative figure is a data signal (missing receipt,
  unrecorded production) that the reconciliation should expose, not hide.
* An item with no count on or before ``start`` starts from zero on ``start`` and its rows carry a
  null ``snapshot_date`` until its first count.
* Reconciliation compares the estimate carried forward from one count with the next count:
  ``error_qty = estimated_qty - snapshot_qty`` (positive = the estimate ran high) and
  ``error_pct = 100 * error_qty / snapshot_qty`` (null when the count is zero). Only counts dated
  in ``(start, end]`` whose preceding estimate itself started from a count are reconciled.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from dsop_assets.ordered_sums import ordered_sum

DAILY_COLUMNS = [
    "item_id",
    "date",
    "opening_qty",
    "produced_qty",
    "received_qty",
    "shipped_qty",
    "consumed_qty",
    "closing_qty",
    "snapshot_date",
]
RECONCILIATION_COLUMNS = [
    "item_id",
    "snapshot_date",
    "base_snapshot_date",
    "estimated_qty",
    "snapshot_qty",
    "error_qty",
    "error_pct",
]
_FLOWS = ["produced_qty", "received_qty", "shipped_qty", "consumed_qty"]


def _movements(
    production: pl.DataFrame, receipts: pl.DataFrame, shipments: pl.DataFrame, bom: pl.DataFrame
) -> pl.LazyFrame:
    """Every flow as (item_id, date, one flow column), summed per item and day."""
    produced = production.lazy().select(
        pl.col("product_id").cast(pl.String).alias("item_id"),
        pl.col("production_date").cast(pl.Date).alias("date"),
        pl.col("produced_qty").cast(pl.Float64),
    )
    recv = (
        receipts.lazy()
        .filter(pl.col("received_date").is_not_null() & pl.col("received_qty").is_not_null())
        .select(
            pl.col("product_id").cast(pl.String).alias("item_id"),
            pl.col("received_date").cast(pl.Date).alias("date"),
            pl.col("received_qty").cast(pl.Float64),
        )
    )
    shipped = shipments.lazy().select(
        pl.col("product_id").cast(pl.String).alias("item_id"),
        pl.col("revenue_date").cast(pl.Date).alias("date"),
        pl.col("shipped_qty").cast(pl.Float64),
    )
    if "scrap_rate" in bom.columns and bom.filter(pl.col("scrap_rate") >= 1).height:
        raise ValueError("bom.scrap_rate must be below 1 (a rate of 1 means nothing survives)")
    scrap = pl.col("scrap_rate").cast(pl.Float64).fill_null(0.0) if "scrap_rate" in bom.columns else pl.lit(0.0)
    per_unit = bom.lazy().select(
        pl.col("parent_product_id").cast(pl.String).alias("item_id"),
        pl.col("component_product_id").cast(pl.String).alias("component"),
        (pl.col("qty_per").cast(pl.Float64) / (1.0 - scrap)).alias("gross_per"),
    )
    consumed = produced.join(per_unit, on="item_id", how="inner").select(
        pl.col("component").alias("item_id"),
        "date",
        (pl.col("produced_qty") * pl.col("gross_per")).alias("consumed_qty"),
    )
    return (
        pl.concat([produced, recv, shipped, consumed], how="diagonal")
        .group_by("item_id", "date")
        # Summed in a fixed order (``ordered_sum``): a component consumed by several parents the same
        # day otherwise got a last bit that followed the thread split, and that bit reached the opening
        # stock the production plan and the purchase recommendations start from.
        .agg(ordered_sum(pl.col(f).fill_null(0.0)) for f in _FLOWS)
    )


def _running(
    snapshots: pl.DataFrame,
    production: pl.DataFrame,
    receipts: pl.DataFrame,
    shipments: pl.DataFrame,
    bom: pl.DataFrame,
    start: date,
    end: date,
) -> pl.DataFrame:
    """The daily estimate from each item's anchor (latest count <= start, else start) to end."""
    snaps = (
        snapshots.lazy()
        .select(
            pl.col("product_id").cast(pl.String).alias("item_id"),
            pl.col("snapshot_date").cast(pl.Date),
            pl.col("on_hand_qty").cast(pl.Float64),
        )
        .filter(pl.col("snapshot_date") < end)
        .group_by("item_id", "snapshot_date")
        .agg(ordered_sum(pl.col("on_hand_qty")))
    )
    moves = _movements(production, receipts, shipments, bom)
    anchors = (
        pl.concat([snaps.select("item_id"), moves.select("item_id")])
        .unique()
        .join(
            snaps.filter(pl.col("snapshot_date") <= start)
            .group_by("item_id")
            .agg(pl.col("snapshot_date").max().alias("anchor")),
            on="item_id",
            how="left",
        )
        .with_columns(pl.col("anchor").fill_null(start))
    )
    grid = (
        anchors.with_columns(pl.date_ranges("anchor", pl.lit(end), interval="1d", closed="left").alias("date"))
        .explode("date")
        .drop("anchor")
        .filter(pl.col("date").is_not_null())
    )
    net = pl.col("produced_qty") + pl.col("received_qty") - pl.col("shipped_qty") - pl.col("consumed_qty")
    return (
        grid.join(moves, on=["item_id", "date"], how="left")
        .with_columns(pl.col(f).fill_null(0.0) for f in _FLOWS)
        # Exact-day join then forward fill: cheaper than an as-of join and needs no global sort.
        .join(
            snaps.with_columns(pl.col("snapshot_date").alias("date")),
            on=["item_id", "date"],
            how="left",
        )
        .sort("item_id", "date")  # joins do not promise order; fills and running sums need it
        .with_columns(pl.col("snapshot_date", "on_hand_qty").forward_fill().over("item_id"))
        .with_columns(
            (pl.col("on_hand_qty").fill_null(0.0) + net.cum_sum().over("item_id", "snapshot_date")).alias(
                "closing_qty"
            )
        )
        .with_columns((pl.col("closing_qty") - net).alias("opening_qty"))
        .select(DAILY_COLUMNS)
        .collect()
    )


def estimate_daily_inventory(
    snapshots: pl.DataFrame,
    production: pl.DataFrame,
    receipts: pl.DataFrame,
    shipments: pl.DataFrame,
    bom: pl.DataFrame,
    start: date,
    end: date,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Daily estimate per item for days in [start, end) and its reconciliation against counts.

    Inputs are the ERP tables as loaded (extra columns ignored):
    snapshots ``inventory(snapshot_date, product_id, on_hand_qty)``;
    production ``daily_production(production_date, product_id, produced_qty)``;
    receipts ``purchase_order(product_id, received_date, received_qty)`` (open lines ignored);
    shipments ``daily_revenue(revenue_date, product_id, shipped_qty)``;
    bom ``bom(parent_product_id, component_product_id, qty_per[, scrap_rate])``.

    Returns ``(daily, reconciliation)`` with ``DAILY_COLUMNS`` and ``RECONCILIATION_COLUMNS``.
    """
    if start >= end:
        return _empty_daily(), _empty_reconciliation()
    running = _running(snapshots, production, receipts, shipments, bom, start, end)
    daily = running.filter(pl.col("date") >= start)

    counts = snapshots.select(
        pl.col("product_id").cast(pl.String).alias("item_id"),
        pl.col("snapshot_date").cast(pl.Date),
        pl.col("on_hand_qty").cast(pl.Float64).alias("snapshot_qty"),
    ).filter((pl.col("snapshot_date") > start) & (pl.col("snapshot_date") <= end))
    day_before = daily.select(
        "item_id",
        (pl.col("date") + timedelta(days=1)).alias("snapshot_date"),
        pl.col("snapshot_date").alias("base_snapshot_date"),
        pl.col("closing_qty").alias("estimated_qty"),
    )
    reconciliation = (
        counts.join(day_before, on=["item_id", "snapshot_date"], how="inner")
        .filter(pl.col("base_snapshot_date").is_not_null())
        .with_columns((pl.col("estimated_qty") - pl.col("snapshot_qty")).alias("error_qty"))
        .with_columns(
            pl.when(pl.col("snapshot_qty") != 0)
            .then(100.0 * pl.col("error_qty") / pl.col("snapshot_qty"))
            .otherwise(None)
            .alias("error_pct")
        )
        .select(RECONCILIATION_COLUMNS)
        .sort("item_id", "snapshot_date")
    )
    return daily, reconciliation


def _empty_daily() -> pl.DataFrame:
    schema = {c: pl.Float64 for c in DAILY_COLUMNS}
    schema.update(item_id=pl.String, date=pl.Date, snapshot_date=pl.Date)
    return pl.DataFrame(schema=schema)


def _empty_reconciliation() -> pl.DataFrame:
    schema = {c: pl.Float64 for c in RECONCILIATION_COLUMNS}
    schema.update(item_id=pl.String, snapshot_date=pl.Date, base_snapshot_date=pl.Date)
    return pl.DataFrame(schema=schema)
