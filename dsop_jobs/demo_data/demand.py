"""Customer demand: customer x product order processes driven by the latent cycle.

Each pair places Poisson(lambda_w) orders in week w, each of ``pack * (1 + NegBin(r, mean mu_w))``
units, on weekdays. Sums of such orders stay NegBin, so ``truth.py`` can simulate the exact same law.
The four pair classes span the Syntetos-Boylan quadrants (ADI 1.32, CV^2 0.49).
"""

from __future__ import annotations

import numpy as np

from .cycle import cycle_at
from .timeline import Timeline

DOW_WEIGHTS = np.array([0.23, 0.22, 0.21, 0.2, 0.14])
# class: share of pairs, lambda range (orders/week), NegBin shape r range, size multiplier
CLASSES = {
    "smooth": (0.28, (3.0, 7.0), (3.0, 8.0), 1.0),
    "erratic": (0.17, (1.7, 3.5), (0.25, 0.6), 1.0),
    "intermittent": (0.3, (0.06, 0.45), (3.0, 8.0), 1.5),
    "lumpy": (0.25, (0.06, 0.45), (0.2, 0.6), 1.5),
}


def build_pairs(rng: np.random.Generator, items: dict, cust: dict, per_fg: float) -> dict:
    n_fg, n_c = items["n_fg"], len(cust["customer_id"])
    counts = np.clip(1 + rng.poisson(per_fg - 1, n_fg), 1, n_c)
    pc = cust["weight"] ** 0.6 / np.sum(cust["weight"] ** 0.6)
    prod = np.repeat(np.arange(n_fg), counts)
    custs = np.concatenate([np.sort(rng.choice(n_c, k, replace=False, p=pc)) for k in counts])
    n = len(prod)
    shares = np.array([v[0] for v in CLASSES.values()])
    quota = np.floor(shares * n).astype(int)
    quota[0] += n - quota.sum()
    cls = rng.permutation(np.repeat(np.arange(len(CLASSES)), quota))
    lam, r, size = np.empty(n), np.empty(n), np.empty(n)
    for k, (_, (llo, lhi), (rlo, rhi), mult) in enumerate(CLASSES.values()):
        m = cls == k
        lam[m] = rng.uniform(llo, lhi, m.sum())
        r[m] = rng.uniform(rlo, rhi, m.sum())
        size[m] = mult
    cw = cust["weight"][custs] / np.median(cust["weight"])
    mu = items["packs_per_order"][prod] * size * cw**0.55 * np.exp(rng.normal(0, 0.3, n))
    lead = rng.uniform(items["lead_lo"][prod], items["lead_hi"][prod])
    return {"product": prod, "customer": custs, "cls": cls, "lam": lam, "r": r, "mu": mu, "lead": lead,
            "growth": cust["growth"][custs] + rng.normal(0, 0.08, n), "u_start": rng.random(n), "u_end": rng.random(n),
            "w_start": rng.random(n), "w_end": rng.random(n)}


def weekly_intensity(rng, tl: Timeline, items: dict, cust: dict, pairs: dict, cycle: np.ndarray,
                     usd_daily: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lambda_w, mu_w) per pair x simulated week: cycle, season, quarter-end, growth, FX, life cycle."""
    weeks = tl.week_starts()
    mid = weeks + 3
    nw = len(weeks)
    prod, cu = pairs["product"], pairs["customer"]
    grp = items["group_idx"][prod]
    c = cycle_at(cycle, tl, mid)
    log_m = items["beta"][prod][:, None] * c[None, :]
    doy = (mid - mid.astype("datetime64[Y]")).astype(int)
    amp, phase = rng.uniform(0.03, 0.12, 16), rng.uniform(0, 2 * np.pi, 16)
    log_m += np.log1p(amp[grp][:, None] * np.sin(2 * np.pi * doy[None, :] / 365.25 + phase[grp][:, None]))
    month = mid.astype("datetime64[M]").astype(int) % 12 + 1
    day = (mid - mid.astype("datetime64[M]")).astype(int) + 1
    qe = np.isin(month, (3, 6, 9, 12)) & (day >= 16)
    after_qe = np.isin(month, (1, 4, 7, 10)) & (day <= 10)
    push = cust["qe_push"][cu][:, None]
    log_m += np.where(push & qe[None, :], np.log(1.35), 0.0) + np.where(push & after_qe[None, :], np.log(0.85), 0.0)
    holiday = ((month == 12) & (day >= 24)) | ((month == 1) & (day <= 3))
    log_m += np.where(holiday, np.log(0.55), 0.0)[None, :]
    yrs = (np.arange(nw) - tl.warmup_weeks) / 52.18
    log_m += pairs["growth"][:, None] * yrs[None, :]
    usd = usd_daily[np.arange(nw) * 7 + 3]
    log_m += np.where(items["usd"][prod].astype(bool), 0.8, 0.0)[:, None] * np.log(usd / 1330.0)[None, :]
    m = np.exp(log_m)
    life = _life(tl, items, pairs, nw)
    return pairs["lam"][:, None] * m**0.8 * life, pairs["mu"][:, None] * m**0.2


def _life(tl: Timeline, items: dict, pairs: dict, nw: int) -> np.ndarray:
    """Launch ramps, last-time buys before end of life, and customers qualifying or leaving."""
    w = np.arange(nw)[None, :]
    launch = items["launch_w"][pairs["product"]][:, None]
    eol = items["eol_w"][pairs["product"]][:, None]
    life = np.clip((w - launch + 1) / 8.0, 0.0, 1.0)
    life = np.where((w >= eol - 4) & (w < eol), 1.8, life) * (w < eol)
    lo, hi = tl.warmup_weeks + 4, tl.warmup_weeks + tl.history_weeks - 8
    p_start = np.where(pairs["u_start"] < 0.08, lo + pairs["w_start"] * (hi - lo), -1e9)[:, None]
    life = life * np.clip((w - p_start + 1) / 6.0, 0.0, 1.0) * (w < pair_end_weeks(tl, pairs)[:, None])
    return life


def pair_end_weeks(tl: Timeline, pairs: dict) -> np.ndarray:
    """Simulated week from which a pair orders no more (its customer left the product); 1e9 for most pairs."""
    lo, hi = tl.warmup_weeks + 4, tl.warmup_weeks + tl.history_weeks - 8
    return np.where(pairs["u_end"] < 0.05, lo + 20 + pairs["w_end"] * max(1, hi - lo - 20), 1e9)


def draw_orders(rng: np.random.Generator, tl: Timeline, items: dict, pairs: dict, lam_w: np.ndarray,
                mu_w: np.ndarray) -> dict:
    """Every simulated order line (warm-up and tail included), sorted by day, customer, product."""
    counts = rng.poisson(lam_w)
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    pair, week = np.divmod(flat, counts.shape[1])
    r = pairs["r"][pair]
    mu = mu_w[pair, week]
    pack = items["pack"][pairs["product"][pair]]
    qty = pack * (1 + rng.negative_binomial(r, r / (r + mu)))
    day = week * 7 + rng.choice(5, len(flat), p=DOW_WEIGHTS)
    lead = np.rint(pairs["lead"][pair] * rng.uniform(0.8, 1.2, len(flat))).astype(int)
    req = _busday_forward(tl, day + lead)
    o = np.lexsort((qty, pairs["product"][pair], pairs["customer"][pair], day))
    return {"pair": pair[o], "day": day[o], "qty": qty[o].astype(float), "req_day": req[o],
            "product": pairs["product"][pair][o], "customer": pairs["customer"][pair][o]}


def _busday_forward(tl: Timeline, day: np.ndarray) -> np.ndarray:
    d0 = np.datetime64(tl.sim_start, "D")
    return (np.busday_offset(d0 + day, 0, roll="forward") - d0).astype(int)


def order_prices(rng, tl: Timeline, items: dict, cust: dict, orders: dict, cycle: np.ndarray,
                 drift: np.ndarray) -> np.ndarray:
    """Agreed price: list price drifting over time and with the cycle, less the customer's discount."""
    d = np.datetime64(tl.sim_start, "D") + orders["day"]
    yrs = (orders["day"] - tl.start_day) / 365.25
    p = orders["product"]
    price = (items["price"][p] * np.exp(drift[p] * yrs + 0.08 * cycle_at(cycle, tl, d))
             * cust["discount"][orders["customer"]] * np.exp(rng.normal(0, 0.01, len(p))))
    return np.where(items["currency"][p] == "KRW", np.round(price), np.round(price, 2))
