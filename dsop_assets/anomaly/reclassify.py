"""A pair spike that was the first week of a product level shift, recorded on the shift's alert.

At week t a pair (customer x product) whose orders step up to a new level looks like a spike: nothing
before t says the level will hold. The change-point test confirms the product's shift ``shift.MIN_WEEKS``
or more weeks later, with an onset near t. The later alert then says what the earlier one was: the shift's
row names the spike it reclassifies (``reclassified_customer_id``, ``reclassified_week``), and the
evaluation counts that spike as superseded, not as a spike call. Week t's own alert stays as it was
issued (partitions are as-of); only the partition that confirms the shift carries the reclassification.

Which spike: one on the same product whose record week is within ``RECLASSIFY_WEEKS`` of the shift's onset,
issued before the shift was called, on a pair that carries the step up (a spike cannot open a fall). Carries:
leaving the spike's own week out (one large week is no new level: an isolated spike fails here), the pair's
mean weekly orders after the onset are at least ``MIN_PAIR_STEP`` times its mean before, and its move is at
least ``MIN_STEP_SHARE`` of the product's. Means, as they add up over a product's pairs; a quarter, not most:
a product-wide step spreads over its customers by their volume (seed 97: the spike's pair, 49 % of the volume,
carried 35 % of a x3 step), while a small pair's own spike at another customer's step is kept a spike.
A week either way: the onset is placed exactly for most calls (564 exact, 3 calls 4-5 weeks off on 32
generated histories, README), and the spike test reports the record week, the onset or, where the first week
of the new level was partial, the week after; the spikes' own scoring allows a week either way too. Wider,
and a true spike in the weeks before a real shift of the same pair would be swallowed by it.
Weeks read: the shift's ``shift.BASE_WEEKS`` before its onset and the weeks from the onset to the week it
is called, all at or before that week (leak-free).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from dsop_assets.anomaly import shift

RECLASSIFY_WEEKS = 1
MIN_STEP_SHARE = 0.25
MIN_PAIR_STEP = 2.0  # the change-point test's own bar for a material shift (``shift.MIN_LOG_SHIFT``)
# how far before the partition a reclassified spike can lie: a shift's onset is placed in the base and test
# windows before the week it is called (``shift._product_shifts``), and the spike a week either side
LOOKBACK_WEEKS = shift.BASE_WEEKS + shift.MAX_WEEKS + RECLASSIFY_WEEKS
COLUMNS = {"reclassified_customer_id": pl.String, "reclassified_week": pl.Date}


def candidate_weeks(shifts: pl.DataFrame, lag: int) -> list:
    """Weeks whose spike alerts a shift of ``shifts`` may reclassify: record weeks within ``RECLASSIFY_WEEKS``
    of its onset, and the ``lag`` weeks after (a lagged spike is issued that much later)."""
    out = set()
    for onset in shifts["event_week"].to_list():
        for k in range(-RECLASSIFY_WEEKS, RECLASSIFY_WEEKS + lag + 1):
            out.add(onset + timedelta(days=7 * k))
    return sorted(out)


def reclassify(shifts: pl.DataFrame, spikes: pl.DataFrame, pair_grid: pl.DataFrame) -> pl.DataFrame:
    """``shifts`` (``shift.level_shifts`` rows) with ``COLUMNS``: the customer and record week of the spike
    alert each reclassifies, null where none. ``spikes``: spike alerts (week_start issued, event_week, customer_id,
    product_id), those of the weeks ``candidate_weeks`` gives at least; ``pair_grid``: ``weekly_grid`` by
    customer x product covering the shift's base weeks."""
    if shifts.is_empty():
        return shifts.with_columns(*[pl.lit(None, t).alias(c) for c, t in COLUMNS.items()])
    tol = timedelta(days=7 * RECLASSIFY_WEEKS)
    cand = (shifts.select("product_id", pl.col("week_start").alias("called"), pl.col("event_week").alias("onset"))
            .join(spikes.select("product_id", "customer_id", pl.col("week_start").alias("issued"),
                                pl.col("event_week").alias("spike_week")), on="product_id")
            .filter((pl.col("spike_week") - pl.col("onset")).abs() <= tol, pl.col("issued") < pl.col("called")))
    rows = [(product_id, called, customer_id, spike_week) for product_id, called, onset, customer_id, spike_week
            in cand.select("product_id", "called", "onset", "customer_id", "spike_week").unique().sort(pl.all()).iter_rows()
            if _carries(pair_grid, product_id, customer_id, onset, called, spike_week)]
    found = pl.DataFrame(rows, schema={"product_id": pl.String, "week_start": pl.Date, **COLUMNS}, orient="row")
    # one per shift (two pairs that each carry the step: the first in customer order); its first spike allowed
    best = found.sort(pl.all()).group_by("product_id", "week_start", maintain_order=True).first()
    return shifts.join(best, on=["product_id", "week_start"], how="left")


def _carries(grid: pl.DataFrame, product_id: str, customer_id: str, onset, called, spike_week) -> bool:
    """Whether the pair carries the product's step up: without the spike's own week (one large week is no new
    level), its mean weekly orders after the onset at least ``MIN_PAIR_STEP`` times those of the base weeks before,
    and its move at least ``MIN_STEP_SHARE`` of the product's."""
    base = onset - timedelta(days=7 * shift.BASE_WEEKS)
    rows = grid.filter(pl.col("product_id") == product_id, pl.col("week_start").is_between(base, called),
                       pl.col("week_start") != spike_week)
    weekly = rows.group_by("week_start").agg(
        pl.col("qty").sum().alias("product"), pl.col("qty").filter(pl.col("customer_id") == customer_id).sum().alias("pair"))
    after = pl.col("week_start") >= onset
    level = weekly.select(*[pl.col(c).filter(after).mean().alias(f"{c}_after") for c in ("product", "pair")],
                          *[pl.col(c).filter(~after).mean().alias(f"{c}_before") for c in ("product", "pair")]
                          ).row(0, named=True)
    if any(v is None for v in level.values()):
        return False
    product_move, pair_move = level["product_after"] - level["product_before"], level["pair_after"] - level["pair_before"]
    return (product_move > 0 and pair_move >= MIN_STEP_SHARE * product_move
            and level["pair_after"] >= MIN_PAIR_STEP * level["pair_before"])


def superseded(alerts: pl.DataFrame) -> pl.DataFrame:
    """Spike alerts that a level-shift alert of ``alerts`` reclassifies: on the pair it names, with a record week
    within ``RECLASSIFY_WEEKS`` of its onset, issued before it."""
    if "reclassified_customer_id" not in alerts.columns:
        return alerts.head(0)
    by = alerts.filter(pl.col("kind") == "level_shift", pl.col("reclassified_customer_id").is_not_null()).select(
        "product_id", pl.col("reclassified_customer_id").alias("customer_id"), pl.col("week_start").alias("called"),
        pl.col("event_week").alias("onset"))
    tol = timedelta(days=7 * RECLASSIFY_WEEKS)
    return alerts.filter(pl.col("kind") == "spike").join(by, on=["product_id", "customer_id"]).filter(
        (pl.col("event_week") - pl.col("onset")).abs() <= tol, pl.col("week_start") < pl.col("called")
    ).select(alerts.columns).unique(maintain_order=True)
