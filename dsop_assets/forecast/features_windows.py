"""Trailing-window statistics whose bits depend only on the window's own values.

Polars' rolling sums, means and standard deviations slide a running float total along the series
(add the value entering the window, subtract the one leaving it), so the same window read at the
same period gave different last bits in a build over all history and in a build over the last year
only. Here every window is added up afresh from its own values (a fixed tree of power-of-two blocks),
and the deviations for the standard deviation are taken from that window's own mean: a period's features are the same bits wherever the
panel starts, so a one-origin refresh builds exactly the rows a full backfill builds
(tests/forecast/test_feature_windows.py).

The panel is dense and sorted (every series has one row per period, series after series), so a
column is a (series x period) matrix and a window is ``width`` shifted slices of it. Periods before
the panel's first are absent, not zero: near the start a window holds fewer values (``min_samples``
in Polars' terms), and its count says how many.
"""

from __future__ import annotations

import numpy as np


def _grid(values: np.ndarray, periods: int) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64).reshape(-1, periods)


def _shifted(grid: np.ndarray, width: int) -> tuple[np.ndarray, int]:
    """The grid with ``width - 1`` zero periods in front: slice ``k`` of it, ``[:, k:k + periods]``,
    holds each period's value ``width - 1 - k`` periods back."""
    series, periods = grid.shape
    padded = np.zeros((series, periods + width - 1))
    padded[:, width - 1:] = grid
    return padded, periods


def window_counts(periods: int, width: int) -> np.ndarray:
    """Values in each period's window (fewer than ``width`` near the panel's first period)."""
    return np.minimum(np.arange(1, periods + 1), width).astype(np.float64)


def window_sum(values: np.ndarray, periods: int, width: int) -> np.ndarray:
    """Sum of each period's trailing ``width`` values. Flat, in the panel's row order.

    Built from power-of-two blocks (a block of 2k periods is its older and its newer k-block added),
    the window being its blocks added oldest first: about log2(width) additions per value instead of
    ``width``, and still a fixed tree over the window's own values. The +0.0 start turns a negative
    zero into +0.0, so a window of zeros is +0.0 wherever it starts."""
    grid = _grid(values, periods) + 0.0
    blocks = {1: grid}
    size = 1
    while size * 2 <= width:
        block = blocks[size]
        doubled = block.copy()
        doubled[:, size:] += block[:, :-size] if size < periods else 0.0
        size *= 2
        blocks[size] = doubled
    total, covered = None, 0
    for size in sorted(blocks, reverse=True):
        if covered + size > width:
            continue
        # The block ending ``width - covered - size`` periods back: the oldest part not yet covered.
        lag = width - covered - size
        part = np.zeros_like(grid)
        if lag < periods:
            part[:, lag:] = blocks[size][:, : periods - lag]
        total = part if total is None else total + part
        covered += size
    return total.ravel()


def window_mean(values: np.ndarray, periods: int, width: int) -> np.ndarray:
    grid_sum = window_sum(values, periods, width).reshape(-1, periods)
    return (grid_sum / window_counts(periods, width)).ravel()


def window_std(values: np.ndarray, periods: int, width: int, mean: np.ndarray | None = None) -> np.ndarray:
    """Sample standard deviation (ddof 1) of each trailing window, NaN with fewer than two values.

    Two passes over the window (its mean, then the squared deviations from it): no cancellation
    between two large sums, and no dependence on where the panel starts. ``mean``: ``window_mean``'s
    result for the same values and width, when the caller has it already."""
    grid = _grid(values, periods)
    counts = window_counts(periods, width)
    mean = (window_mean(values, periods, width) if mean is None else mean).reshape(-1, periods)
    padded, periods = _shifted(grid, width)
    squares = np.zeros_like(mean)
    for k in range(width):
        deviation = padded[:, k:k + periods] - mean
        deviation[:, : max(0, width - 1 - k)] = 0.0  # the padding in front of the panel is no value
        squares += deviation * deviation
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(squares / (counts - 1))
    std[:, counts < 2] = np.nan
    return std.ravel()
