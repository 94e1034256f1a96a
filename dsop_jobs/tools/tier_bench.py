"""Held-out accuracy of the tier classifiers outside Dagster: ``python -m dsop_jobs.tools.tier_bench``.

The same simulation, windows, split and models as ``tier_classifier`` (seed 4), printed per model and rho.
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from dsop_assets.simulation import beer_game as bg
from dsop_assets.simulation import tier_model as tm


def main() -> None:
    began = time.perf_counter()
    series = {}
    for rho in bg.RHOS:
        sim = bg.simulate(rho)
        series[rho] = sim["inventory"] - sim["backlog"]
    ds = tm.dataset(series)
    train, test = ds["train"], ~ds["train"]
    with threadpool_limits(1):
        features = tm.tier_features(ds["x"])
        preds = {"mlp_raw_window": tm.fit_mlp(ds["x"][train], ds["tier"][train]).predict(ds["x"][test]),
                 "lightgbm_window_features": tm.fit_lgbm(features[train], ds["tier"][train]).predict(features[test]),
                 "conv1d_random_kernels": tm.fit_conv(ds["x"][train], ds["tier"][train]).predict(ds["x"][test])}
    truth, rho = ds["tier"][test], ds["rho"][test]
    print(f"{int(train.sum())} training, {int(test.sum())} held-out windows; {time.perf_counter() - began:.1f} s")
    for model, p in preds.items():
        per_rho = " ".join(f"{r:+.1f}: {np.mean(p[rho == r] == truth[rho == r]):.4f}" for r in bg.RHOS)
        print(f"{model:26s} {np.mean(p == truth):.4f}  ({per_rho})")


if __name__ == "__main__":
    main()
