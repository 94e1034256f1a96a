"""The beer game: four tiers with shipping and order delays, Sterman's anchor-and-adjust ordering, AR(1) demand.

Each week, per tier (0 retailer, 1 wholesaler, 2 distributor, 3 factory): receive what was shipped
``SHIP_DELAY`` weeks ago (the factory: what it started producing ``SHIP_DELAY + ORDER_DELAY`` weeks ago),
see the order its customer placed ``ORDER_DELAY`` weeks ago (the retailer: this week's demand), ship
what stock allows (the rest is backlog), then order

    O = max(0, E + alpha * (S* - (inventory - backlog) - beta * supply_line))

with E the exponentially smoothed incoming order (theta) and supply_line what it ordered and has not
yet received. Parameters are Sterman's (1989) average estimates. Demand is AR(1) around ``MEAN``:
D_t = MEAN + rho (D_{t-1} - MEAN) + e_t, e ~ N(0, SIGMA), floored at 0. Replications run as one
vectorised array; every draw comes from a generator seeded by (rho, replication).
"""

from __future__ import annotations

import numpy as np

TIERS = ("retailer", "wholesaler", "distributor", "factory")
RHOS = (-0.6, -0.3, 0.0, 0.3, 0.6)
WEEKS = 600
BURN_IN = 100
REPLICATIONS = 20
SHIP_DELAY, ORDER_DELAY = 2, 2
THETA, ALPHA, BETA, TARGET_STOCK = 0.36, 0.26, 0.34, 17.0
MEAN, SIGMA = 20.0, 4.0


def demand_paths(rho: float, reps: int, weeks: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, reps, int(round(rho * 100)) + 1000])
    e = rng.normal(0.0, SIGMA, (reps, weeks))
    d = np.empty((reps, weeks))
    d[:, 0] = MEAN + e[:, 0]
    for t in range(1, weeks):
        d[:, t] = MEAN + rho * (d[:, t - 1] - MEAN) + e[:, t]
    return np.maximum(d, 0.0)


def simulate(rho: float, reps: int = REPLICATIONS, weeks: int = WEEKS, seed: int = 4) -> dict[str, np.ndarray]:
    """Arrays reps x tiers x weeks: order, shipment (sent downstream), inventory, backlog; and demand reps x weeks."""
    demand = demand_paths(rho, reps, weeks, seed)
    n = len(TIERS)
    horizon = weeks + SHIP_DELAY + ORDER_DELAY + 2
    inbound = np.zeros((reps, n, horizon))  # arrivals by week
    orders_in = np.zeros((reps, n, horizon))  # orders seen by tier i in week t
    inv = np.full((reps, n), TARGET_STOCK)
    backlog = np.zeros((reps, n))
    expected = np.full((reps, n), MEAN)
    supply_line = np.full((reps, n), MEAN * (SHIP_DELAY + ORDER_DELAY))
    # start in steady state: the pipeline holds a mean week's flow everywhere
    inbound[:, :, : SHIP_DELAY + ORDER_DELAY] = MEAN
    orders_in[:, 1:, :ORDER_DELAY] = MEAN
    out = {k: np.zeros((reps, n, weeks)) for k in ("order", "shipment", "inventory", "backlog")}
    for t in range(weeks):
        inv += inbound[:, :, t]
        supply_line -= inbound[:, :, t]
        incoming = orders_in[:, :, t].copy()
        incoming[:, 0] = demand[:, t]
        due = incoming + backlog
        shipped = np.minimum(inv, due)
        inv -= shipped
        backlog = due - shipped
        # what tier i ships arrives at tier i-1 after the shipping delay
        inbound[:, :-1, t + SHIP_DELAY] += shipped[:, 1:]
        expected = THETA * incoming + (1 - THETA) * expected
        order = np.maximum(0.0, expected + ALPHA * (TARGET_STOCK - (inv - backlog) - BETA * supply_line))
        supply_line += order
        orders_in[:, 1:, t + ORDER_DELAY] += order[:, :-1]
        # the factory's order is a production start: it arrives after both delays
        inbound[:, -1, t + ORDER_DELAY + SHIP_DELAY] += order[:, -1]
        for k, v in (("order", order), ("shipment", shipped), ("inventory", inv), ("backlog", backlog)):
            out[k][:, :, t] = v
    out["demand"] = demand
    return out


def bullwhip(sim: dict[str, np.ndarray]) -> np.ndarray:
    """Var(orders placed by each tier) / Var(customer demand), after the burn-in, mean over replications."""
    var_d = sim["demand"][:, BURN_IN:].var(axis=1)
    var_o = sim["order"][:, :, BURN_IN:].var(axis=2)
    return (var_o / var_d[:, None]).mean(axis=0)
