"""Labelled anomalies planted in the demo export, so anomaly detection can be scored against a truth.

Four kinds, each written to ``ground_truth/planted_anomalies.csv`` with the week it starts. Each is sized
to be what a planner would call anomalous *against this data's own noise*: the demo's weekly order
quantities are lumpy (a pair's natural week reaches 10x its median some 50 times in 25,000 pair-weeks, and
2.5-3x its previous year's largest week a few times), so "an order line times ten" on a quiet week is not an event
anyone could tell from the noise, and neither is a three-week pause of a pair that skips one week in twenty.

* ``spike``: one customer x product week raised to ``SPIKE_OVER_MAX`` (5-10) times the pair's largest week
  of the year before (every line of that week scaled alike): far more than that customer ever ordered.
  Natural record breaks on the demo reach about 3x (a handful in 2.5 years), so anything less than that
  could not be told from the noise; an "extra digit" (x10) on a quiet week often lands there;
* ``drop``: one customer x product that orders almost every week stops for ``DROP_WEEKS`` (6) weeks (its
  lines are removed; the shipments of those orders stay, as for orders placed before the export window);
* ``level_shift``: from one week on, every order line of a product is scaled by a factor (x0.3 or x3),
  until ``ORDER_TAIL_WEEKS`` before the end (see there why); the return to the old level is a level shift
  of its own and is labelled as one (``factor`` = 1 / the shift's);
* ``stock_mismatch``: one month-start stock count off by a factor, the flows around it untouched.

Besides the planted events, the truth lists the drops the demand model itself makes: a customer leaving a
product (``demand.pair_end_weeks``) that it had ordered in most weeks (``LEFT_PRESENCE`` of the half-year
before) is, to a planner, the same event as a planted drop that never ends (``source`` = ``customer_left``;
planted rows have ``planted``). Without them every correct alert on such a pair would count as a false one.

Spikes and drops go to pairs that order almost every week, because on an intermittent pair neither is a
recognisable event. Planted events never overlap on the same series, and sit at least ``MARGIN_WEEKS``
from the history's ends so a detector has a baseline before and, for shifts, weeks after.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

SPIKE_OVER_MAX = (5.0, 10.0)  # the spike week, in multiples of the pair's largest week of the year before
SPIKE_BASE_WEEKS = 52
DROP_WEEKS = 6
SHIFT_FACTORS = (0.3, 3.0)
STOCK_FACTORS = ((0.35, 0.6), (1.6, 2.2))
MARGIN_WEEKS = 26
# Order anomalies end this many weeks before the history does. Planted quantities are never shipped, and
# the open-order book looks back 26 weeks: a planted spike near the end would stay "open" and firm, and
# make the production plan infeasible. A level shift therefore reverts here (it is called at its start).
ORDER_TAIL_WEEKS = 28
MIN_SHIFT_WEEKS = 8
STEADY_SHARE = 0.95  # share of weeks with an order that makes a series "steady"
SHARE_PLANTED = 0.1  # of the eligible series, per kind (a quarter of the items for stock counts)
LEFT_PRESENCE, LEFT_WEEKS = 0.85, 26
SHARE_PAIRS = 0.2  # of the steady pairs, half spikes and half drops: enough events that 95 % precision is measurable

TRUTH_COLUMNS = ["kind", "level", "customer_id", "product_id", "week_start", "snapshot_date", "factor", "weeks",
                 "source"]


def _count(eligible: int) -> int:
    return min(eligible, max(2, round(SHARE_PLANTED * eligible)))


def _weeks(start: date, n_weeks: int) -> list[date]:
    return [start + timedelta(days=7 * i) for i in range(n_weeks)]


def plant_anomalies(rng: np.random.Generator, start: date, end: date, orders: pl.DataFrame,
                    inventory: pl.DataFrame, left: list[tuple[str, str, float]] = ()
                    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(orders, inventory, truth): the export frames with anomalies planted and the labels.

    ``left``: (customer, product, history week from which the pair orders no more) of the demand model.
    """
    n_weeks = ((end - start).days + 1) // 7
    first, last = MARGIN_WEEKS, n_weeks - ORDER_TAIL_WEEKS - DROP_WEEKS
    shift_end = n_weeks - ORDER_TAIL_WEEKS
    weeks = _weeks(start, n_weeks)
    week_of = ((pl.col("order_date") - pl.lit(start)).dt.total_days() // 7).cast(pl.Int32)
    orders = orders.with_columns(week_of.alias("_week"), pl.int_range(pl.len()).alias("_row"))
    presence = orders.group_by("customer_id", "product_id").agg(pl.col("_week").n_unique().alias("n"))
    steady = presence.filter(pl.col("n") >= STEADY_SHARE * n_weeks).sort("customer_id", "product_id")
    truth: list[dict] = []
    used_pairs: set[tuple[str, str]] = set()
    pairs = steady.select("customer_id", "product_id").rows()
    order = rng.permutation(len(pairs))
    n_pair = _count(round(SHARE_PAIRS / SHARE_PLANTED * len(pairs)) // 2)
    scale = pl.lit(1.0)
    dropped: list[pl.Expr] = []
    for kind, picks in (("spike", order[:n_pair]), ("drop", order[n_pair: 2 * n_pair])):
        for i in picks:
            cust, prod = pairs[i]
            used_pairs.add((cust, prod))
            w = int(rng.integers(first, last))
            on = (pl.col("customer_id") == cust) & (pl.col("product_id") == prod)
            if kind == "spike":
                # ten times an empty week is still empty: move to the pair's next week with orders
                active = sorted(orders.filter(on & pl.col("_week").is_between(w, last))["_week"].unique())
                w = int(active[0]) if active else w
                per_week = orders.filter(on & pl.col("_week").is_between(w - SPIKE_BASE_WEEKS, w)) \
                    .group_by("_week").agg(pl.col("order_qty").sum())
                now = per_week.filter(pl.col("_week") == w)["order_qty"].sum()
                before = per_week.filter(pl.col("_week") < w)["order_qty"].max() or now
                factor = round(float(rng.uniform(*SPIKE_OVER_MAX)) * before / now, 3)
                scale = pl.when(on & (pl.col("_week") == w)).then(factor).otherwise(scale)
                truth.append(dict(kind=kind, level="customer_product", customer_id=cust, product_id=prod,
                                  week_start=weeks[w], snapshot_date=None, factor=factor, weeks=1))
            else:
                dropped.append(on & pl.col("_week").is_between(w, w + DROP_WEEKS - 1))
                truth.append(dict(kind=kind, level="customer_product", customer_id=cust, product_id=prod,
                                  week_start=weeks[w], snapshot_date=None, factor=0.0, weeks=DROP_WEEKS))
    # Level shifts on products none of whose pairs carry a spike or drop, so each event stands alone.
    touched = {p for _, p in used_pairs}
    product_weeks = orders.group_by("product_id").agg(pl.col("_week").n_unique().alias("n"))
    products = sorted(product_weeks.filter((pl.col("n") >= STEADY_SHARE * n_weeks)
                                           & ~pl.col("product_id").is_in(sorted(touched)))["product_id"])
    for i in rng.permutation(len(products))[: _count(len(products))]:
        prod = products[i]
        w = int(rng.integers(first, shift_end - MIN_SHIFT_WEEKS))
        factor = float(SHIFT_FACTORS[int(rng.integers(0, 2))])
        scale = pl.when((pl.col("product_id") == prod) & pl.col("_week").is_between(w, shift_end - 1)) \
            .then(factor).otherwise(scale)
        truth.append(dict(kind="level_shift", level="product", customer_id=None, product_id=prod,
                          week_start=weeks[w], snapshot_date=None, factor=factor, weeks=shift_end - w))
        truth.append(dict(kind="level_shift", level="product", customer_id=None, product_id=prod,
                          week_start=weeks[shift_end], snapshot_date=None, factor=round(1 / factor, 4),
                          weeks=n_weeks - shift_end))
    truth += _customers_left(orders, left, used_pairs, weeks, n_weeks)
    keep = ~pl.any_horizontal(dropped) if dropped else pl.lit(True)
    orders = (orders.with_columns((pl.col("order_qty") * scale).round(4).alias("order_qty"))
              .filter(keep).sort("_row").drop("_week", "_row"))

    # Stock counts: a count strictly between the first and last, on an item that holds stock then.
    dates = sorted(inventory["snapshot_date"].unique())
    inner = inventory.filter(pl.col("snapshot_date").is_between(pl.lit(dates[1]), pl.lit(dates[-2])) & (pl.col("on_hand_qty") > 10))
    inner = inner.sort("product_id", "snapshot_date")
    items = sorted(inner["product_id"].unique())
    n_stock = _count(len(items) // 4)
    stock_scale = pl.lit(1.0)
    for i in rng.permutation(len(items))[:n_stock]:
        rows = inner.filter(pl.col("product_id") == items[i])
        snap = rows["snapshot_date"][int(rng.integers(0, rows.height))]
        low, high = STOCK_FACTORS[int(rng.integers(0, 2))]
        factor = round(float(rng.uniform(low, high)), 3)
        on = (pl.col("product_id") == items[i]) & (pl.col("snapshot_date") == pl.lit(snap))
        stock_scale = pl.when(on).then(factor).otherwise(stock_scale)
        day = date.fromisoformat(str(snap))
        truth.append(dict(kind="stock_mismatch", level="item", customer_id=None, product_id=items[i],
                          week_start=day - timedelta(days=day.weekday()), snapshot_date=day, factor=factor, weeks=1))
    inventory = inventory.with_columns((pl.col("on_hand_qty") * stock_scale).round(3).alias("on_hand_qty"))
    truth = [{"source": "planted", **t} for t in truth]
    frame = pl.DataFrame(truth, schema={"kind": pl.String, "level": pl.String, "customer_id": pl.String,
                                        "product_id": pl.String, "week_start": pl.Date, "snapshot_date": pl.Date,
                                        "factor": pl.Float64, "weeks": pl.Int64, "source": pl.String})
    return orders, inventory, frame.select(TRUTH_COLUMNS).sort("kind", "week_start", "product_id", "customer_id")


def _customers_left(orders: pl.DataFrame, left, used: set, weeks: list[date], n_weeks: int) -> list[dict]:
    """Drop rows for pairs that the demand model ends and that ordered in most weeks before: the silence
    starts the week after their last order (before the model's end), and must last ``DROP_WEEKS``."""
    out = []
    for cust, prod, end_week in left:
        if (cust, prod) in used:
            continue
        had = orders.filter((pl.col("customer_id") == cust) & (pl.col("product_id") == prod)
                            & (pl.col("_week") < end_week))["_week"].unique()
        if had.is_empty():
            continue
        silent = int(had.max()) + 1
        recent = had.filter(had >= silent - LEFT_WEEKS).len()
        if MARGIN_WEEKS <= silent <= n_weeks - DROP_WEEKS and recent >= LEFT_PRESENCE * LEFT_WEEKS:
            out.append(dict(kind="drop", level="customer_product", customer_id=cust, product_id=prod,
                            week_start=weeks[silent], snapshot_date=None, factor=0.0, weeks=n_weeks - silent,
                            source="customer_left"))
    return out
