"""Sub-assemblies that follow their parents' planned batches (two-level MRP inside the plan).

Exploding the goods' *demand* into sub-assembly demand (what the plan did first) puts a sub-assembly's
need in the weeks the goods are sold, while a lot-sized batch of the good is made weeks before: the
decision replay of issue #16 found 77 % of the units dsop could not make were short of an in-house
sub-assembly. Here the goods are planned first, each charged its sub-assemblies' line hours
(``echelon_hours``: a good's batch reserves the hours its sub-assemblies take in that week), then
each sub-assembly is made lot-for-lot for the batches its parents actually planned, net of its
stock, in the latest week with the hours for it (``follow_batches``), deepest BOM level last; where
that greedy leaves a line over its hours, the line's sub-assemblies of that level are scheduled
together by a small MIP (``schedule_line``) before any good loses a lot. The
plan's gap is the goods plan's: sub-assemblies are not optimised on their own, their setups and
holding are counted in the plan's cost.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import polars as pl

from dsop_assets.planning.bom import low_level_codes
from dsop_assets.planning.highs import quiet_highs
from dsop_assets.planning.lower_bound import product_plan
from dsop_assets.planning.plan_data import UNCAPACITATED, PlanData

# Per-product arrays of PlanData (sliced by ``subset``); the rest are per line or per week.
_PER_PRODUCT = ("demand", "firm", "safety_stock", "opening", "line_of", "hours", "lot", "hold_cost", "shortage_cost",
                "terminal_cost", "ss_cost", "setup_cost")


def component_links(products: list[str], bom: pl.DataFrame | None) -> np.ndarray:
    """[parent, component] units of the component per parent unit (scrap included), only for pairs
    that are both planned here; zeros when no planned product is made of another."""
    index = {p: i for i, p in enumerate(products)}
    links = np.zeros((len(products), len(products)))
    if bom is None or bom.is_empty():
        return links
    scrap = pl.col("scrap_rate").cast(pl.Float64).fill_null(0.0) if "scrap_rate" in bom.columns else pl.lit(0.0)
    rows = bom.select("parent_product_id", "component_product_id", (pl.col("qty_per").cast(pl.Float64) / (1 - scrap)))
    for parent, comp, per in rows.iter_rows():
        if parent in index and comp in index and per and per > 0:
            links[index[parent], index[comp]] += per
    return links


def levels_of(products: list[str], bom: pl.DataFrame | None) -> np.ndarray:
    codes = low_level_codes(bom) if bom is not None and bom.height else {}
    return np.array([codes.get(p, 0) for p in products], dtype=int)


def subset(data: PlanData, keep: np.ndarray) -> PlanData:
    """``data`` restricted to the products ``keep`` (indices), lines and weeks unchanged."""
    keep = np.asarray(keep, dtype=int)
    changes = {f.name: getattr(data, f.name)[keep] for f in fields(data) if f.name in _PER_PRODUCT}
    return replace(data, products=[data.products[i] for i in keep], line_label=[data.line_label[i] for i in keep],
                   **changes)


def echelon_hours(data: PlanData, links: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """[p] line hours a unit of p takes with the sub-assemblies it consumes made on the same line,
    recursively (shallower items add their components' echelon hours, deepest first)."""
    hours = data.hours.astype(float).copy()
    for level in sorted(set(levels.tolist()), reverse=True):
        for p in np.flatnonzero(levels == level):
            for c in np.flatnonzero(links[p] > 0):
                if data.line_of[c] == data.line_of[p] and data.line_of[c] != UNCAPACITATED:
                    hours[p] += links[p, c] * hours[c]
    return hours


def lot_hours(data: PlanData, links: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """[p] line hours per unit of p when one more lot of p is made together with whole lots of its
    same-line sub-assemblies: what a line's spare hours must hold for the extra lot to be made
    whatever stock of sub-assemblies is left over (the avoidable-backlog rule's yardstick)."""
    hours = echelon_hours(data, links, levels)
    for p in np.flatnonzero((links > 0).any(axis=1)):
        if np.isnan(data.lot[p]):
            continue
        step = data.lot[p] * data.hours[p]
        for c in np.flatnonzero(links[p] > 0):
            if data.line_of[c] != data.line_of[p] or data.line_of[c] == UNCAPACITATED:
                continue
            need = links[p, c] * data.lot[p]
            made = np.ceil(need / data.lot[c] - 1e-9) * data.lot[c] if not np.isnan(data.lot[c]) else need
            step += made * hours[c]
        hours[p] = max(hours[p], step / data.lot[p])
    return hours


def follow_batches(data: PlanData, made: np.ndarray, subs: np.ndarray, links: np.ndarray, levels: np.ndarray,
                   capped: list[bool] | None = None) -> tuple[np.ndarray, float]:
    """(made with every sub-assembly row filled, a lower bound on the sub-assemblies' cost).

    ``made`` holds the parents' plan; ``data`` is changed in place: each sub-assembly's demand
    becomes its need (its parents' batches plus any demand of its own), all of it firm, no safety
    stock. Level by level, a sub-assembly takes its cheapest plan without capacity (lower_bound's
    exact recursion, whose cost is also the bound) when the line has the hours for it; otherwise
    each shortfall is made in whole lots in the latest week up to the need whose line still has the
    hours (regular + overtime), else in the week of the need. ``capped`` gets True appended when
    a line's schedule (``schedule_line``) ended on HiGHS's safety-net time limit.
    """
    made = made.copy()
    bound = 0.0
    for level in sorted(set(levels[subs].tolist())):
        for c in sorted(subs[levels[subs] == level].tolist()):
            data.demand[c] = data.demand[c] + links[:, c] @ made
            data.firm[c] = data.demand[c]
            data.safety_stock[c] = 0.0
            value, best = product_plan(data, c)
            bound += value
            made[c] = best
            if _fits_line(data, made, data.line_of[c]) or _shift_earlier(data, made, c):
                continue
            made[c] = 0.0
            lot = data.lot[c]
            for t in range(len(data.weeks)):
                short = float(data.demand[c, : t + 1].sum() - data.opening[c] - made[c, : t + 1].sum())
                # One lot at a time, each in the latest week with the hours for it: a tight line
                # often has room for one more lot in several weeks but for all of them in none.
                while short > 1e-9:
                    qty = lot if not np.isnan(lot) else short
                    made[c, _week_with_hours(data, made, c, data.line_of[c], t, qty)] += qty
                    short -= qty
        level_subs = subs[levels[subs] == level]
        for l in sorted({int(data.line_of[c]) for c in level_subs} - {UNCAPACITATED}):
            if not _fits_line(data, made, l):
                on_line = [int(c) for c in level_subs if data.line_of[c] == l]
                scheduled, hit = schedule_line(data, made, on_line, l)
                if hit and capped is not None:
                    capped.append(True)
                if scheduled is not None:
                    made[on_line] = scheduled
    return made, bound


# Branch-and-bound nodes for one line's sub-assembly schedule (a work limit: a handful of products
# over the horizon, solved at the root or within a few nodes).
SCHEDULE_MAX_NODES = 500


def schedule_line(data: PlanData, made: np.ndarray, subs: list[int], l: int,
                  time_limit: float = 60.0) -> tuple[np.ndarray | None, bool]:
    """([subs, t] the cheapest whole-lot schedule of line l's sub-assemblies ``subs`` that covers
    their need (``data.demand``, set by follow_batches) in the hours the rest of the line leaves, or
    None when no schedule fits; whether HiGHS's safety-net ``time_limit`` ended it, which the plan
    then reports as ``time_capped``: the node limit is the work limit).

    The greedy above places a sub-assembly's lots one product at a time; on a line saturated by
    high-value goods no single earlier week had room for the next lot, although several sub-assembly
    lots could trade weeks: the goods then lost lots (replayed week 2026-08-03: +3.1 bn KRW). This is
    the small MIP over lots x[c,t] and setups y[c,t] of those products alone (HiGHS, a node limit):
    holding h x lot x weeks left, setups, and the line's overtime."""
    import highspy

    n_c, n_t = len(subs), len(data.weeks)
    on = data.line_of == l
    others = on.copy()
    others[subs] = False
    base = (made[others] * data.hours[others, None]).sum(axis=0)
    reg, ot = float(data.regular[l]), float(data.overtime[l])
    lot = np.where(np.isnan(data.lot[subs]), 1.0, data.lot[subs])
    whole = ~np.isnan(data.lot[subs])
    need = np.cumsum(data.demand[subs], axis=1) - data.opening[subs, None]
    most = np.maximum(np.ceil(need.max(axis=1, initial=0.0) / lot - 1e-9), 0.0)
    x = lambda c, t: c * n_t + t  # noqa: E731
    y = lambda c, t: n_c * n_t + c * n_t + t  # noqa: E731
    o = 2 * n_c * n_t
    weeks_left = n_t - np.arange(n_t)
    cost = np.concatenate([(data.hold_cost[subs, None] * lot[:, None] * weeks_left[None, :]).ravel(),
                           np.repeat(data.setup_cost[subs], n_t), np.full(n_t, float(data.overtime_cost[l]))])
    scale = max(float(np.abs(cost).max(initial=1.0)), 1.0)
    upper = np.concatenate([np.repeat(most, n_t), np.ones(n_c * n_t), np.full(n_t, ot)])
    kinds = np.concatenate([np.repeat(whole.astype(np.int32), n_t), np.ones(n_c * n_t, dtype=np.int32),
                            np.zeros(n_t, dtype=np.int32)])
    h = quiet_highs(0, time_limit, mip_max_nodes=SCHEDULE_MAX_NODES, mip_rel_gap=1e-4)
    h.addCols(len(cost), cost / scale, np.zeros(len(cost)), upper, 0, np.array([], dtype=np.int32),
              np.array([], dtype=np.int32), np.array([], dtype=float))
    h.changeColsIntegrality(len(cost), np.arange(len(cost), dtype=np.int32), kinds)

    def row(low: float, high: float, index: list[int], value: list[float]) -> None:
        h.addRow(low, high, len(index), np.array(index, dtype=np.int32), np.array(value, dtype=float))

    for i in range(n_c):
        for t in range(n_t):
            if need[i, t] > 1e-9:  # cover the need on time
                row(float(need[i, t]), highspy.kHighsInf, [x(i, s) for s in range(t + 1)], [float(lot[i])] * (t + 1))
            row(-highspy.kHighsInf, 0.0, [x(i, t), y(i, t)], [1.0, -max(float(most[i]), 1.0)])  # a lot needs a setup
    hours = data.hours[subs] * lot
    for t in range(n_t):
        row(-highspy.kHighsInf, reg - float(base[t]), [x(i, t) for i in range(n_c)] + [o + t],
            [*hours.tolist(), -1.0])
    h.run()
    hit = h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit
    if h.getInfo().primal_solution_status != 2:  # 2: feasible
        return None, hit
    value = np.asarray(h.getSolution().col_value)[: n_c * n_t].reshape(n_c, n_t)
    value = np.where(whole[:, None], np.round(value), value)
    return value * lot[:, None], hit


def _shift_earlier(data: PlanData, made: np.ndarray, c: int) -> bool:
    """Moves c's lots out of overbooked weeks, one lot at a time, to the latest earlier week with
    the hours (earlier output only adds holding); True when c's line then fits."""
    l = data.line_of[c]
    on = data.line_of == l
    lot = data.lot[c] if not np.isnan(data.lot[c]) else None
    cap = data.regular[l] + data.overtime[l]
    for t in range(len(data.weeks) - 1, -1, -1):
        while made[c, t] > 1e-9:
            used = (made[on] * data.hours[on, None]).sum(axis=0)
            over = used[t] - cap
            if over <= 1e-6:
                break
            qty = min(lot or over / data.hours[c], made[c, t])
            room = [s for s in range(t - 1, -1, -1) if cap - used[s] >= qty * data.hours[c] - 1e-6]
            if not room:
                return False
            made[c, t] -= qty
            made[c, room[0]] += qty
    return _fits_line(data, made, l)


def _fits_line(data: PlanData, made: np.ndarray, l: int) -> bool:
    if l == UNCAPACITATED:
        return True
    on = data.line_of == l
    return bool(((made[on] * data.hours[on, None]).sum(axis=0) <= data.regular[l] + data.overtime[l] + 1e-6).all())


def _week_with_hours(data: PlanData, made: np.ndarray, c: int, l: int, t: int, qty: float) -> int:
    if l == UNCAPACITATED or data.hours[c] <= 0:
        return t
    on = data.line_of == l
    spare = data.regular[l] + data.overtime[l] - (made[on] * data.hours[on, None]).sum(axis=0)
    for s in range(t, -1, -1):
        if spare[s] >= qty * data.hours[c] - 1e-6:
            return s
    return t


def overloaded(data: PlanData, made: np.ndarray) -> list[tuple[int, int]]:
    """(line, week) whose hours exceed regular + overtime."""
    out = []
    for l in range(len(data.lines)):
        on = data.line_of == l
        used = (made[on] * data.hours[on, None]).sum(axis=0)
        out += [(l, int(t)) for t in np.flatnonzero(used > data.regular[l] + data.overtime[l] + 1e-6)]
    return out
