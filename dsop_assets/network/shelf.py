"""Shelf life in a chunk: no warehouse stock past its SKU's life, exactly, first-expiring-first-out.

A unit made on day p with life L may sit in stock up to the end of day p + L - 1 and must leave (to a
city, locally or as a discard) on day p + L at the latest. The checker replays each warehouse-SKU
first-expiring-first-out, which is the best order there is: if any split of the outflows over the
lots keeps every lot inside its life, FEFO does too (earliest-deadline-first with release days). So
the model needs exactly "some split of the outflows over the lots is feasible", in one of two forms:

- **In-order pairs** (no unit can arrive after a younger one): the stock is then the youngest units
  received, and the linear rows "stock[t] <= units received by t that are still fresh" (cumulative
  arrivals minus cumulative departures L days back) are exact.
- **Overtaking pairs** (a fast lane can land a younger unit before an older one, e.g. air beside ship,
  a near plant beside a far one, or a lot still in transit from the previous chunk): those rows are
  only a relaxation (the older unit can arrive after the outflow was spent on the younger one and then
  expire). Their stock is split by production day ("cohorts") for every cohort that expires inside the
  window: a cohort's stock grows only by its own arrivals and is gone after its last day; the cohorts
  that cannot expire inside the window share one "late" bucket that may not grow from nothing either.

Which form a pair gets is decided on the arcs the chunk actually created, so the exact but larger form
is paid only where lanes of different transit times feed the same warehouse with a short-life SKU.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import polars as pl

from dsop_assets.network.lp import Milp

PAIR = ["site_id", "sku_id"]


def _known_lots(days: pl.DataFrame, carry, opening: pl.DataFrame) -> pl.DataFrame:
    """Units the chunk starts with or is sure to receive: (site, SKU, produced p, arrival a, qty), days as indices."""
    start, T = days["day"][0], days.height
    idx = lambda c: (pl.col(c) - pl.lit(start)).dt.total_days().cast(pl.Int64)  # noqa: E731
    return pl.concat([
        carry.lots.select(*PAIR, idx("produced").alias("p"), pl.lit(0, dtype=pl.Int64).alias("a"), "qty"),
        carry.in_transit.select(*PAIR, idx("produced").alias("p"), idx("arrival").alias("a"), "qty"),
        opening.select(*PAIR, pl.col("t").cast(pl.Int64).alias("p"), pl.col("t").cast(pl.Int64).alias("a"), pl.col("q").alias("qty")),
    ]).filter(pl.col("a").is_between(0, T - 1) & (pl.col("qty") > 0))


def overtaking_pairs(events: pl.DataFrame) -> pl.DataFrame:
    """Warehouse-SKU pairs where some unit can arrive strictly after a unit produced later."""
    per_day = events.group_by(*PAIR, "p").agg(pl.col("a").min().alias("amin"), pl.col("a").max().alias("amax")).sort(*PAIR, "p")
    return (per_day.with_columns(pl.col("amax").cum_max().shift(1).over(PAIR).alias("older_max"))
            .filter(pl.col("older_max") > pl.col("amin")).select(PAIR).unique())


def shelf_life_rows(m: Milp, nd, days: pl.DataFrame, inv: pl.DataFrame, x_pw: pl.DataFrame, carry, opening: pl.DataFrame) -> dict:
    T = days.height
    life = nd.skus.select("sku_id", "life_days")
    known = _known_lots(days, carry, opening).join(life, on="sku_id")
    arcs = x_pw.select(pl.col("dst").alias("site_id"), "sku_id", pl.col("t").alias("p"), pl.col("t_arr").alias("a"), "col", "life_days")
    events = pl.concat([known.select(*PAIR, "p", "a", "life_days"), arcs.select(*PAIR, "p", "a", "life_days")])
    # Only pairs where some unit's last day + 1 falls inside the window can break the rule here.
    expiring = events.filter(pl.col("p") + pl.col("life_days") - 1 <= T - 2).select(PAIR).unique()
    with_stock = inv.select(PAIR).unique()
    expiring = expiring.join(with_stock, on=PAIR)
    if expiring.height == 0:
        return {"fefo_rows": 0, "fefo_cohort_vars": 0, "fefo_pairs_in_order": 0, "fefo_pairs_cohort": 0}
    over = overtaking_pairs(events.join(expiring, on=PAIR))
    in_order = expiring.join(over, on=PAIR, how="anti")
    rows = _in_order_rows(m, days, inv.join(in_order, on=PAIR), arcs.join(in_order, on=PAIR), known.join(in_order, on=PAIR))
    n_rows, n_vars = _cohort_rows(m, T, inv.join(over, on=PAIR), arcs.join(over, on=PAIR), known.join(over, on=PAIR))
    return {"fefo_rows": rows + n_rows, "fefo_cohort_vars": n_vars, "fefo_pairs_in_order": in_order.height, "fefo_pairs_cohort": over.height}


def _in_order_rows(m: Milp, days: pl.DataFrame, inv: pl.DataFrame, arcs: pl.DataFrame, known: pl.DataFrame) -> int:
    """stock[t] <= fresh receipts, with cumulative arrivals (by arrival day) and departures (by production day)."""
    if inv.height == 0:
        return 0
    T = days.height
    arr = m.add_vars("arr_cum", inv.select(*PAIR, "t", "life_days"))
    dep = m.add_vars("dep_cum", inv.select(*PAIR, "t", "life_days"))
    count = 0
    for var, flow_t in ((arr, "a"), (dep, "p")):
        count += m.add_rows(pl.concat([
            var.select(*PAIR, "t", "col", pl.lit(1.0).alias("coef")),
            var.select(*PAIR, (pl.col("t") + 1).alias("t"), "col", pl.lit(-1.0).alias("coef")).filter(pl.col("t") < T),
            arcs.select(*PAIR, pl.col(flow_t).alias("t"), "col", pl.lit(-1.0).alias("coef")),
        ]).join(var.select(*PAIR, "t"), on=[*PAIR, "t"]), [*PAIR, "t"], lo=0.0, hi=0.0)
    # Every unit produced up to t - L has arrived by t (transit < life), so arr_cum[t] - dep_cum[t - L]
    # counts the received units still fresh at the end of t; the known lots add theirs as a constant.
    fresh = inv.select(*PAIR, "t").join(known.select(*PAIR, "p", "a", "qty", "life_days"), on=PAIR, how="left").group_by(*PAIR, "t").agg(
        pl.when((pl.col("p") + pl.col("life_days") - 1 >= pl.col("t")) & (pl.col("a") <= pl.col("t"))).then(pl.col("qty")).otherwise(0.0)
        .sum().alias("fresh"))
    rows = pl.concat([
        inv.select(*PAIR, "t", "col", pl.lit(1.0).alias("coef")),
        arr.select(*PAIR, "t", "col", pl.lit(-1.0).alias("coef")),
        dep.select(*PAIR, (pl.col("t") + pl.col("life_days")).alias("t"), "col", pl.lit(1.0).alias("coef")).filter(pl.col("t") < T),
    ]).join(fresh, on=[*PAIR, "t"], how="left").with_columns(pl.col("fresh").fill_null(0.0))
    return count + m.add_rows(rows, [*PAIR, "t"], hi="fresh")


def _cohort_rows(m: Milp, T: int, inv: pl.DataFrame, arcs: pl.DataFrame, known: pl.DataFrame) -> tuple[int, int]:
    """Stock split into a cohort per production day that expires in the window, plus one late bucket.

    cohort[p, t] <= cohort[p, t-1] + its arrivals on t, for t up to its last day (after which it has no
    variable, so it must have left); late[t] <= late[t-1] + the other arrivals; stock[t] = late[t] + the
    live cohorts. Each part's outflow is then >= 0 and they add up to the warehouse's outflow.
    """
    if inv.height == 0:
        return 0, 0
    last = pl.col("p") + pl.col("life_days") - 1
    events = pl.concat([known.select(*PAIR, "p", "a", "life_days"), arcs.select(*PAIR, "p", "a", "life_days")])
    cohorts = events.filter(last <= T - 2).group_by(*PAIR, "p").agg(pl.col("a").min().alias("first"), last.first().alias("last"))
    cells = (cohorts.filter(pl.col("first") <= pl.col("last")).with_columns(pl.int_ranges("first", pl.col("last") + 1).alias("t"))
             .explode("t").select(*PAIR, "p", pl.col("t").cast(pl.Int64)))
    coh = m.add_vars("fefo_cohort", cells)
    late = m.add_vars("fefo_late", inv.select(*PAIR, "t"))
    tracked = cohorts.select(*PAIR, "p", pl.lit(True).alias("tracked"))
    arcs = arcs.join(tracked, on=[*PAIR, "p"], how="left")
    known = known.join(tracked, on=[*PAIR, "p"], how="left")
    one = pl.lit(1.0).alias("coef")
    # Rows over cohort cells: arrivals of that production day on that day are its only source.
    k_in = known.filter(pl.col("tracked").fill_null(False)).group_by(*PAIR, "p", pl.col("a").alias("t")).agg(pl.col("qty").sum().alias("q"))
    rows = m.add_rows(pl.concat([
        coh.select(*PAIR, "p", "t", "col", one),
        coh.select(*PAIR, "p", (pl.col("t") + 1).alias("t"), "col", pl.lit(-1.0).alias("coef")),
        arcs.filter(pl.col("tracked").fill_null(False)).select(*PAIR, "p", pl.col("a").alias("t"), "col", pl.lit(-1.0).alias("coef")),
    ]).join(cells, on=[*PAIR, "p", "t"]).join(k_in, on=[*PAIR, "p", "t"], how="left").with_columns(pl.col("q").fill_null(0.0)),
        [*PAIR, "p", "t"], hi="q")
    l_in = known.filter(~pl.col("tracked").fill_null(False)).group_by(*PAIR, pl.col("a").alias("t")).agg(pl.col("qty").sum().alias("q"))
    rows += m.add_rows(pl.concat([
        late.select(*PAIR, "t", "col", one),
        late.select(*PAIR, (pl.col("t") + 1).alias("t"), "col", pl.lit(-1.0).alias("coef")),
        arcs.filter(~pl.col("tracked").fill_null(False)).select(*PAIR, pl.col("a").alias("t"), "col", pl.lit(-1.0).alias("coef")),
    ]).join(late.select(*PAIR, "t"), on=[*PAIR, "t"]).join(l_in, on=[*PAIR, "t"], how="left").with_columns(pl.col("q").fill_null(0.0)),
        [*PAIR, "t"], hi="q")
    rows += m.add_rows(pl.concat([
        inv.select(*PAIR, "t", "col", one),
        late.select(*PAIR, "t", "col", pl.lit(-1.0).alias("coef")),
        coh.select(*PAIR, "t", "col", pl.lit(-1.0).alias("coef")),
    ]), [*PAIR, "t"], lo=0.0, hi=0.0)
    return rows, coh.height + late.height


def fefo_closing_lots(start, end, lots: pl.DataFrame, arrivals: pl.DataFrame, outflows: pl.DataFrame, eps: float = 1e-6) -> pl.DataFrame:
    """The lots left at the end of ``end`` when every warehouse-SKU is replayed first-expiring-first-out.

    ``lots`` (site_id, sku_id, produced, qty) are held on ``start``; ``arrivals`` add (..., day, produced,
    qty); ``outflows`` take (..., day, qty) oldest first. The previous rule kept "the youngest units
    received", which is the FEFO stock only when a warehouse receives in production order: with
    overtaking lanes it called old units young, and the next chunk let them expire.
    """
    held: dict = defaultdict(dict)
    for r in lots.iter_rows(named=True):
        held[(r["site_id"], r["sku_id"])][r["produced"]] = held[(r["site_id"], r["sku_id"])].get(r["produced"], 0.0) + r["qty"]
    came: dict = defaultdict(list)
    for r in arrivals.filter(pl.col("day").is_between(start, end)).iter_rows(named=True):
        came[(r["site_id"], r["sku_id"], r["day"])].append((r["produced"], r["qty"]))
    went = defaultdict(float)
    for r in outflows.filter(pl.col("day").is_between(start, end)).iter_rows(named=True):
        went[(r["site_id"], r["sku_id"], r["day"])] += r["qty"]
    pairs = sorted(set(held) | {k[:2] for k in came} | {k[:2] for k in went})
    out = []
    for pair in pairs:
        stock = held.get(pair, {})
        day = start
        while day <= end:
            for produced, qty in came.get((*pair, day), ()):
                stock[produced] = stock.get(produced, 0.0) + qty
            need = went.get((*pair, day), 0.0)
            for produced in sorted(stock):
                if need <= eps:
                    break
                take = min(stock[produced], need)
                stock[produced] -= take
                need -= take
            stock = {p: q for p, q in stock.items() if q > eps}
            day += timedelta(days=1)
        out.extend((*pair, p, q) for p, q in sorted(stock.items()))
    return pl.DataFrame(out, schema={"site_id": pl.Utf8, "sku_id": pl.Utf8, "produced": pl.Date, "qty": pl.Float64}, orient="row")
