"""Level shifts in product orders: a windowed change-point test, market-adjusted, confirmed on steady customers.

Series: log(1 + weekly product orders) minus log(1 + the same week's orders of the rest of its product
group). The group moves with the business cycle (on the demo, whole groups fall or rise by 2x over a few
months); subtracting it leaves what is particular to the product. Without it, one seed gave 40+ "shifts"
that were the cycle.

Test at week W (leak-free: weeks <= W only): for each candidate onset tau with n = W - tau + 1 weeks after
it (``MIN_WEEKS`` <= n <= ``MAX_WEEKS``), the mean of the n weeks after against the ``BASE_WEEKS`` before,
both winsorised at 3 robust SDs of the weeks before (a single spike or empty week cannot make a shift), in
units of the noise: T = (mean_after - mean_before) / (sigma * sqrt(1/n + 1/BASE_WEEKS)), sigma = 1.4826 x
MAD of the weeks before. The largest |T| over tau is a windowed GLR/CUSUM statistic. The threshold is
deterministic, from the noise model: a false alarm at most ``ALPHA`` per product-week if the weeks were
independent normal noise, Bonferroni over the candidate onsets (|T| >= ~5.0). A shift must also be
material: the median after at least 2x or at most 0.5x the median before (the cycle's residue, seasons and
growth move a product's relative level by less).

Then three cuts, each a different event than a product-wide shift:
* the product was not ordered in >= 90 % of the weeks before (a launch ramp, an intermittent product);
* the orders after stop altogether (an end of life or its only customer gone: a drop, not a new level);
* the shift does not hold on the product's steady customers: customers that ordered in at least half the
  weeks before and have no run of 4+ empty weeks after. A customer leaving, pausing (a drop) or a new one
  arriving moves the product's total; that is an account event, reported as a drop by the pair rules.

The onset is placed by a least-absolute-deviation split of the window (the GLR's argmax is biased early
when the weeks after are few). One alert per shift: none within ``MAX_WEEKS`` after a crossing.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

BASE_WEEKS = 26
MIN_WEEKS = 8  # a planted 6-week drop of a product's main customer must not look like a new level
MAX_WEEKS = 26
ALPHA = 1e-5
MIN_LOG_SHIFT = np.log(2.0)
PRESENCE = 0.9
CUSTOMER_PRESENCE = 0.5
PAUSE_WEEKS = 4
WINSOR = 3.0
SIGMA_FLOOR = 0.05
# weeks of orders the test needs before the first week it scores
LOOKBACK = BASE_WEEKS + MAX_WEEKS + MAX_WEEKS


def threshold() -> float:
    from scipy.stats import norm

    return float(norm.isf(ALPHA / (2 * (MAX_WEEKS - MIN_WEEKS + 1))))


def scan(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """r: series x weeks. Per (series, week W): the largest-|T| statistic and its onset tau (-1: none)."""
    n_series, n_weeks = r.shape
    best = np.zeros((n_series, n_weeks))
    onset = np.full((n_series, n_weeks), -1)
    if n_weeks <= BASE_WEEKS + MIN_WEEKS:
        return best, onset
    pre = sliding_window_view(r, BASE_WEEKS, axis=1)[:, : n_weeks - BASE_WEEKS]  # index i: tau = BASE_WEEKS + i
    med = np.median(pre, axis=2)
    sigma = np.maximum(1.4826 * np.median(np.abs(pre - med[..., None]), axis=2), SIGMA_FLOOR)
    lo, hi = med - WINSOR * sigma, med + WINSOR * sigma
    pre_mean = np.clip(pre, lo[..., None], hi[..., None]).mean(2)
    padded = np.concatenate([r, np.full((n_series, MAX_WEEKS), np.nan)], axis=1)
    post = sliding_window_view(padded, MAX_WEEKS, axis=1)[:, BASE_WEEKS:n_weeks]
    sums = np.cumsum(np.clip(post, lo[..., None], hi[..., None]), axis=2)
    for n in range(MIN_WEEKS, MAX_WEEKS + 1):
        first_w = BASE_WEEKS + n - 1
        k = n_weeks - first_w
        if k <= 0:
            break
        t = ((sums[:, :, n - 1] / n - pre_mean) / (sigma * np.sqrt(1 / n + 1 / BASE_WEEKS)))[:, :k]
        t = np.nan_to_num(t)
        better = np.abs(t) > np.abs(best[:, first_w:])
        best[:, first_w:] = np.where(better, t, best[:, first_w:])
        onset[:, first_w:] = np.where(better, np.arange(BASE_WEEKS, BASE_WEEKS + k)[None, :], onset[:, first_w:])
    return best, onset


def locate(r: np.ndarray, lo: int, hi: int, min_len: int = 4) -> int:
    """First week of the second segment of the least-absolute-deviation two-segment split of r[lo..hi]."""
    seg = r[lo: hi + 1]
    costs = [np.abs(seg[:k] - np.median(seg[:k])).sum() + np.abs(seg[k:] - np.median(seg[k:])).sum()
             for k in range(min_len, len(seg) - min_len + 1)]
    return lo + min_len + int(np.argmin(costs)) if costs else lo + len(seg) // 2


def _longest_zero_run(rows: np.ndarray) -> np.ndarray:
    run = np.zeros(rows.shape[0], dtype=int)
    longest = np.zeros(rows.shape[0], dtype=int)
    for col in rows.T:
        run = np.where(col == 0, run + 1, 0)
        longest = np.maximum(longest, run)
    return longest


def _steady_shift(pairs: np.ndarray, ref: np.ndarray, ev: int, w: int) -> float | None:
    """Median log shift of the product's steady customers' orders (market-adjusted); None: no such customer."""
    before = (pairs[:, ev - BASE_WEEKS: ev] > 0).mean(1)
    steady = (before >= CUSTOMER_PRESENCE) & (_longest_zero_run(pairs[:, ev: w + 1]) < PAUSE_WEEKS)
    if not steady.any():
        return None
    r = np.log1p(pairs[steady].sum(0)) - ref
    return float(np.median(r[ev: w + 1]) - np.median(r[ev - BASE_WEEKS: ev]))


def level_shifts(pair_grid: pl.DataFrame, groups: pl.DataFrame | None = None) -> pl.DataFrame:
    """Level-shift alerts from a zero-filled customer x product weekly grid (``weekly_grid``).

    ``groups``: product_id, product_group (without it every product is its own market: no adjustment).
    Returns product_id, week_start (the week it is called), event_week (onset), observed (median weekly
    orders since the onset), expected (median of the ``BASE_WEEKS`` before), shift_z (T).
    """
    schema = {"product_id": pl.String, "week_start": pl.Date, "event_week": pl.Date, "observed": pl.Float64,
              "expected": pl.Float64, "shift_z": pl.Float64}
    if pair_grid.is_empty():
        return pl.DataFrame(schema=schema)
    weeks = pair_grid["week_start"].unique().sort()
    products = pair_grid.group_by("product_id", "week_start").agg(pl.col("qty").sum()).sort("product_id", "week_start")
    pids = products["product_id"].unique(maintain_order=True).to_list()
    q = products["qty"].to_numpy().reshape(len(pids), len(weeks))
    group_of = dict(groups.select("product_id", "product_group").iter_rows()) if groups is not None else {}
    labels = np.array([group_of.get(p) or f"_{p}" for p in pids])
    totals = {g: q[labels == g].sum(0) for g in set(labels)}
    ref = np.stack([np.log1p(totals[g] - q[i]) for i, g in enumerate(labels)])  # 0 for a group of one
    r = np.log1p(q) - ref
    stat, onset = scan(r)
    h = threshold()
    pair_rows = {pid: frame for (pid,), frame in pair_grid.sort("product_id", "customer_id", "week_start")
                 .group_by(["product_id"], maintain_order=True)}
    out = []
    for i, pid in enumerate(pids):
        last = -10 ** 6
        for w in np.flatnonzero(np.abs(stat[i]) >= h):
            tau = onset[i, w]
            shift = np.median(r[i, tau: w + 1]) - np.median(r[i, tau - BASE_WEEKS: tau])
            if abs(shift) < MIN_LOG_SHIFT:
                continue
            if w - last <= MAX_WEEKS:  # the same shift, still above the bar
                last = w
                continue
            if (q[i, tau - BASE_WEEKS: tau] > 0).mean() < PRESENCE or np.median(q[i, tau: w + 1]) == 0:
                continue
            ev = max(locate(r[i], tau - BASE_WEEKS, w), BASE_WEEKS)
            if w - ev + 1 < MIN_WEEKS:  # the scan's onset ran early: wait until the new level has held
                continue
            last = w
            pairs = pair_rows[pid]["qty"].to_numpy().reshape(-1, len(weeks))
            steady = _steady_shift(pairs, ref[i], ev, w)
            if steady is None or abs(steady) < MIN_LOG_SHIFT or np.sign(steady) != np.sign(shift):
                continue
            out.append(dict(product_id=pid, week_start=weeks[int(w)], event_week=weeks[int(ev)],
                            observed=float(np.median(q[i, ev: w + 1])),
                            expected=float(np.median(q[i, ev - BASE_WEEKS: ev])), shift_z=float(stat[i, w])))
    return pl.DataFrame(out, schema=schema)
