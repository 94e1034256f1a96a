"""A 1-D convolution for scikit-learn: random convolution kernels as a transformer (ROCKET, Dempster et al. 2020).

Each kernel has a random length (7, 9 or 11), normally drawn zero-mean weights, a random dilation
(exponentially spread so that the kernels see patterns from a few weeks to the whole window), a bias and,
for half of them, zero padding. Every window is convolved with every kernel and two numbers are kept per
kernel: the share of positions where the response is positive (PPV) and the largest response. A linear
model on these features is the classifier; the convolution itself is not trained, which is why a plain
numpy transformer suffices and the result is deterministic for a given seed.

Why not a library: aeon and sktime ship ROCKET, but they bring numba and would move the shared numpy
(``pip install --dry-run aeon`` replaces it); this is the same transform in ~40 lines of numpy.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

LENGTHS = (7, 9, 11)


class RandomConvolutions(TransformerMixin, BaseEstimator):
    """n x length windows -> n x 2*n_kernels features (PPV and max per kernel)."""

    def __init__(self, n_kernels: int = 500, seed: int = 0):
        self.n_kernels = n_kernels
        self.seed = seed

    def fit(self, x: np.ndarray, y=None):
        rng = np.random.default_rng(self.seed)
        width = x.shape[1]
        self.kernels_ = []
        for _ in range(self.n_kernels):
            length = int(rng.choice(LENGTHS))
            weights = rng.normal(0.0, 1.0, length)
            weights -= weights.mean()
            dilation = int(2 ** rng.uniform(0, np.log2((width - 1) / (length - 1))))
            padding = ((length - 1) * dilation) // 2 if rng.integers(2) else 0
            bias = float(rng.uniform(-1.0, 1.0))
            self.kernels_.append((weights.astype(np.float32), dilation, padding, bias))
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        out = np.empty((x.shape[0], 2 * len(self.kernels_)), dtype=np.float32)
        for j, (weights, dilation, padding, bias) in enumerate(self.kernels_):
            padded = np.pad(x, ((0, 0), (padding, padding))) if padding else x
            n_out = padded.shape[1] - (len(weights) - 1) * dilation
            response = np.full((x.shape[0], n_out), bias, dtype=np.float32)
            for i, w in enumerate(weights):
                response += w * padded[:, i * dilation: i * dilation + n_out]
            out[:, 2 * j] = (response > 0).mean(axis=1)
            out[:, 2 * j + 1] = response.max(axis=1)
        return out
