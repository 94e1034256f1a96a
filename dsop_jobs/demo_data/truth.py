"""Ground truth: the demand model's own distribution of each product's weekly and monthly order qty.

Conditional on the latent paths (cycle, FX, life cycles), the data's law is known exactly: per pair
and week N ~ Poisson(lambda_w) orders whose total is pack * (N + NegBin(N r, p_w)). Orders fall on
weekdays with fixed weights, so a week that straddles two months splits N binomially. The mean is
analytic; quantiles come from ``DRAWS`` joint simulations, vectorised over pairs and weeks.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .demand import DOW_WEIGHTS
from .timeline import Timeline, to_iso

DRAWS = 200
CELL_BUDGET = 3_000_000  # draws x pairs x weeks held at once


def _month_split(tl: Timeline) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per history week: month index of Monday, of Friday, and the weekday weight of Monday's month."""
    weeks = np.datetime64(tl.start, "D") + 7 * np.arange(tl.history_weeks)
    m0 = np.datetime64(tl.start, "M")
    days = weeks[:, None] + np.arange(5)[None, :]
    mon = (days.astype("datetime64[M]") - m0).astype(int)
    pa = (DOW_WEIGHTS[None, :] * (mon == mon[:, :1])).sum(1)
    months = np.arange(m0, np.datetime64(tl.end, "M") + 1).astype("datetime64[D]")
    return mon[:, 0], mon[:, 4], pa, months


def _sizes(rng, n: np.ndarray, r: np.ndarray, p: np.ndarray) -> np.ndarray:
    out = n.astype(float)
    m = n > 0
    rr = np.broadcast_to(r[None, :, None], n.shape)[m]
    pp = np.broadcast_to(p[None], n.shape)[m]
    out[m] += rng.negative_binomial(n[m] * rr, pp)
    return out


def build_truth(rng: np.random.Generator, tl: Timeline, items: dict, pairs: dict, lam_w: np.ndarray,
                mu_w: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    hs, he = tl.warmup_weeks, tl.warmup_weeks + tl.history_weeks
    lam, mu = lam_w[:, hs:he], mu_w[:, hs:he]
    n_fg, nw = items["n_fg"], he - hs
    ma, mb, pa, months = _month_split(tl)
    nm = len(months)
    A = np.zeros((nw, nm))
    A[np.arange(nw), ma] = 1
    B = np.zeros((nw, nm))
    B[np.arange(nw), mb] = 1
    straddle = ma != mb
    prod = pairs["product"]
    pack = items["pack"][prod]
    r = pairs["r"]
    p = r[:, None] / (r[:, None] + mu)
    pair_mean = lam * pack[:, None] * (1 + mu)
    wk = {k: np.zeros((n_fg, nw)) for k in ("mean", "p10", "p50", "p90")}
    mo = {k: np.zeros((n_fg, nm)) for k in ("mean", "p10", "p50", "p90")}
    np.add.at(wk["mean"], prod, pair_mean)
    np.add.at(mo["mean"], prod, (pair_mean * pa[None, :]) @ A + (pair_mean * (1 - pa)[None, :]) @ B)
    first = np.searchsorted(prod, np.arange(n_fg + 1))
    step = max(1, CELL_BUDGET // (DRAWS * nw))
    p0 = 0
    while p0 < n_fg:
        p1 = p0 + 1
        while p1 < n_fg and first[p1 + 1] - first[p0] <= step:
            p1 += 1
        a, b = first[p0], first[p1]
        if b > a:
            # Poisson thinning: the Monday-month and Friday-month parts of a week are independent
            lam_a = np.broadcast_to(lam[a:b] * pa[None, :], (DRAWS, b - a, nw))
            na = rng.poisson(lam_a)
            nb = np.zeros_like(na)
            lam_b = lam[a:b][:, straddle] * (1 - pa[straddle])
            nb[:, :, straddle] = rng.poisson(np.broadcast_to(lam_b, (DRAWS, b - a, straddle.sum())))
            sa = _sizes(rng, na, r[a:b], p[a:b]) * pack[a:b, None]
            sb = _sizes(rng, nb, r[a:b], p[a:b]) * pack[a:b, None]
            offs = first[p0:p1] - a
            keep = np.flatnonzero(np.diff(first[p0 : p1 + 1]) > 0)
            w_sum = np.add.reduceat(sa + sb, offs[keep], axis=1)
            # 2-D matmul: numpy's stacked 3-D matmul is many times slower here
            flat = (sa.reshape(-1, nw) @ A + sb.reshape(-1, nw) @ B).reshape(DRAWS, b - a, nm)
            m_sum = np.add.reduceat(flat, offs[keep], axis=1)
            q_w = np.quantile(w_sum, [0.1, 0.5, 0.9], axis=0)
            q_m = np.quantile(m_sum, [0.1, 0.5, 0.9], axis=0)
            for k, qi in (("p10", 0), ("p50", 1), ("p90", 2)):
                wk[k][p0 + keep] = q_w[qi]
                mo[k][p0 + keep] = q_m[qi]
        p0 = p1
    ids = np.asarray(items["product_id"][:n_fg], dtype=str)
    weeks = np.datetime64(tl.start, "D") + 7 * np.arange(nw)
    return _frame(ids, to_iso(weeks), "week_start", wk), _frame(ids, to_iso(months), "month_start", mo)


def _frame(ids: np.ndarray, periods: np.ndarray, col: str, v: dict) -> pl.DataFrame:
    n, t = v["mean"].shape
    return pl.DataFrame({
        "product_id": np.repeat(ids, t), col: np.tile(periods, n),
        "expected_qty": np.round(v["mean"].ravel(), 3), "p10": np.round(v["p10"].ravel(), 3),
        "p50": np.round(v["p50"].ravel(), 3), "p90": np.round(v["p90"].ravel(), 3),
    }).sort(["product_id", col])
