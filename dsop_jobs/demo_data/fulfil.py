"""Shipments (invoiced revenue lines): mostly on or just before the requested date, some late, some split."""

from __future__ import annotations

import numpy as np

from .timeline import Timeline


def _busday_forward(tl: Timeline, day: np.ndarray) -> np.ndarray:
    d0 = np.datetime64(tl.sim_start, "D")
    return (np.busday_offset(d0 + day, 0, roll="forward") - d0).astype(int)


def draw_shipments(rng: np.random.Generator, tl: Timeline, items: dict, orders: dict) -> dict:
    """One or two shipment lines per order; ``order`` indexes the order arrays."""
    n = len(orders["day"])
    pack = items["pack"][orders["product"]]
    packs = np.rint(orders["qty"] / pack).astype(int)
    u = rng.random(n)
    partial = (u < 0.05) & (packs >= 2)
    late = ~partial & (u < 0.25)
    delay = np.where(late, rng.geometric(0.18, n), -rng.integers(0, 3, n))
    first = _busday_forward(tl, np.maximum(orders["req_day"] + delay, orders["day"] + 1))
    split = np.clip(np.rint(packs * rng.uniform(0.4, 0.8, n)), 1, np.maximum(packs - 1, 1))
    q1 = np.where(partial, split * pack, orders["qty"])
    second = _busday_forward(tl, np.maximum(orders["req_day"] + rng.integers(5, 31, n), first + 1))
    idx2 = np.flatnonzero(partial)
    order = np.concatenate([np.arange(n), idx2])
    day = np.concatenate([first, second[idx2]])
    qty = np.concatenate([q1, orders["qty"][idx2] - q1[idx2]])
    o = np.lexsort((order, orders["product"][order], orders["customer"][order], day))
    return {"order": order[o], "day": day[o], "qty": qty[o]}
