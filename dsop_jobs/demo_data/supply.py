"""Production to the shipment plan in lots, BOM consumption, purchasing by reorder point, stock.

Plans run weekly over all items at once: a week's start stock always covers that week's outflow,
so on-hand never goes negative; the opening stock of purchased materials is topped up afterwards
by whatever late deliveries would otherwise have overdrawn.
"""

from __future__ import annotations

import numpy as np


def weekly(daily: np.ndarray) -> np.ndarray:
    return daily.reshape(daily.shape[0], -1, 7).sum(axis=2)


def nice(x: np.ndarray) -> np.ndarray:
    """Round up to 1-2 significant digits (25, 300, 1500): how planners write lot sizes."""
    x = np.maximum(np.asarray(x, float), 1.0)
    mag = 10 ** np.floor(np.log10(x) - 1)
    return np.ceil(x / mag) * mag


def lot_sizes(rng, demand_w: np.ndarray, pack: np.ndarray, lo: float, hi: float) -> np.ndarray:
    active = demand_w > 0
    span = np.maximum(active.sum(1), 1)
    avg = demand_w.sum(1) / span
    return pack * np.maximum(1, nice(avg * rng.uniform(lo, hi, len(avg)) / pack))


def plan_production(demand_w: np.ndarray, lot: np.ndarray, ss_ratio: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Lots made in week w cover week w+1's outflow plus safety stock; returns (plan, opening stock)."""
    n, nw = demand_w.shape
    cs = np.concatenate([np.zeros((n, 1)), np.cumsum(demand_w, 1), np.repeat(demand_w.sum(1, keepdims=True), 4, 1)], 1)
    ss = ss_ratio * (cs[:, 4 : nw + 4] - cs[:, :nw]) / 4
    stock = np.ceil((demand_w[:, 0] + ss[:, 0]) / lot - 1e-9) * lot
    opening = stock.copy()
    plan = np.zeros_like(demand_w)
    for w in range(nw - 1):
        after = stock - demand_w[:, w]
        need = demand_w[:, w + 1] + ss[:, w + 1] - after
        plan[:, w] = np.ceil(np.maximum(need, 0) / lot - 1e-9) * lot
        stock = after + plan[:, w]
    return plan, opening


def spread_daily(rng, plan_w: np.ndarray, lot: np.ndarray, n_days: int) -> np.ndarray:
    """A week's lots go on consecutive weekdays, one run per day (several lots a day when busy)."""
    n_lots = np.rint(plan_w / lot[:, None]).astype(np.int64)
    item, week = np.nonzero(n_lots)
    nl = n_lots[item, week]
    k = np.minimum(nl, 5)
    off = rng.integers(0, 6 - k)
    rep = np.repeat(np.arange(len(item)), k)
    j = np.arange(len(rep)) - np.repeat(np.cumsum(k) - k, k)
    per_day = nl[rep] // k[rep] + (j < nl[rep] % k[rep])
    out = np.zeros((plan_w.shape[0], n_days))
    np.add.at(out, (item[rep], week[rep] * 7 + off[rep] + j), per_day * lot[item[rep]])
    return out


def consume(bom: dict, parents: np.ndarray, prod_daily: np.ndarray, n_items: int) -> np.ndarray:
    """Component usage on the day its parents are produced: qty_per / (1 - scrap) per parent unit."""
    m = np.isin(bom["parent"], parents)
    out = np.zeros((n_items, prod_daily.shape[1]))
    factor = bom["qty"][m] / (1 - bom["scrap"][m])
    np.add.at(out, bom["comp"][m], prod_daily[bom["parent"][m]] * factor[:, None])
    return out


def opening_floor(opening: np.ndarray, inflow: np.ndarray, outflow: np.ndarray) -> np.ndarray:
    """Smallest opening stock >= ``opening`` that keeps stock >= 0 even if a day's outflow precedes its inflow."""
    cin = np.concatenate([np.zeros((inflow.shape[0], 1)), np.cumsum(inflow, 1)[:, :-1]], 1)
    low = np.min(cin - np.cumsum(outflow, 1), axis=1)
    return np.maximum(opening, np.ceil(np.maximum(-low, 0) * 1000) / 1000)


def purchase(rng, tl, raw_idx: np.ndarray, items: dict, sup: dict, cons_daily: np.ndarray) -> tuple:
    """Weekly reorder-point review from the history start; returns POs, receipts by day, MOQs, opening stock."""
    n, nd = cons_daily.shape
    hs, he = tl.warmup_weeks, tl.warmup_weeks + tl.history_weeks
    cons_w = weekly(cons_daily)
    avg = cons_w[:, hs:he].sum(1) / np.maximum((cons_w[:, hs:he] > 0).sum(1), 1)
    moq = nice(np.maximum(avg * rng.uniform(2, 5, n), 1))
    s1, s2 = items["supplier"][raw_idx], items["supplier2"][raw_idx]
    ltw = np.ceil(sup["quoted_lt"][s1] / 7).astype(int)
    cs = np.concatenate([np.zeros((n, 1)), np.cumsum(cons_w, 1)], 1)
    rows = np.arange(n)
    horizon = lambda w: cs[rows, np.minimum(w + ltw + 2, cons_w.shape[1])] - cs[:, w]  # noqa: E731
    onhand = horizon(hs) + avg
    opening = onhand.copy()
    pad = 400
    rec = np.zeros((n, nd + pad))
    due = np.zeros((n, nd + pad))
    onorder = np.zeros(n)
    po = {k: [] for k in ("item", "supplier", "day", "qty", "promised", "arrival", "received")}
    prev = hs * 7
    for w in range(hs, he):
        d = w * 7
        onhand += rec[:, prev:d].sum(1) - cons_daily[:, prev:d].sum(1)
        onorder -= due[:, prev:d].sum(1)
        prev = d
        target = horizon(w) + avg
        m = np.flatnonzero((onhand + onorder < target) & (avg > 0))
        if not len(m):
            continue
        q = moq[m] * np.ceil((target[m] + 2 * avg[m] - onhand[m] - onorder[m]) / moq[m] - 1e-9)
        s = np.where((s2[m] >= 0) & (rng.random(len(m)) < 0.5), s2[m], s1[m])
        day = d + 1 + rng.integers(0, 3, len(m))
        lt = np.maximum(1, np.rint(sup["median_lt"][s] * np.exp(sup["sigma"][s] * rng.normal(size=len(m)))))
        arrival = _busday(tl, day + lt.astype(int))
        promised = _busday(tl, day + sup["quoted_lt"][s].astype(int))
        got = np.where(rng.random(len(m)) < 0.08, np.round(q * rng.uniform(0.5, 0.95, len(m)), 2), q)
        a = np.minimum(arrival, nd + pad - 1)
        np.add.at(rec, (m, a), got)
        np.add.at(due, (m, a), q)
        onorder += np.bincount(m, q, n)
        for k, v in zip(po, (m, s, day, q, promised, arrival, got)):
            po[k].append(v)
    out = {k: np.concatenate(v) if v else np.zeros(0) for k, v in po.items()}
    return out, rec[:, :nd], moq, opening


def _busday(tl, day: np.ndarray) -> np.ndarray:
    d0 = np.datetime64(tl.sim_start, "D")
    return (np.busday_offset(d0 + day, 0, roll="forward") - d0).astype(int)
