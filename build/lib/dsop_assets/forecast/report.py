"""Forecast-vs-actual pictures and tables for asset metadata."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from .config import LEVEL_PRODUCT
from .metrics import ALL_GROUPS, SCORE_COLUMNS, with_cadence

SUMMARY_COLUMNS = ["n", "wape", "mape", "mase", "spl_mean", "coverage", "bias"]


def plot_bands(
    forecasts: pl.DataFrame,
    actuals: pl.DataFrame,
    product_ids: Sequence[str],
    path: str | Path,
    model_id: str | None = None,
    horizon: int | None = 1,
) -> Path:
    """PNG of P10-P90 band and P50 against actuals, one row per product, one column per cadence.

    With ``horizon`` set, each panel shows that fixed horizon across all origins (how the forecast
    tracked demand); with ``horizon=None`` it shows the fan made at the latest origin. Product level
    only; ``model_id`` defaults to the first model in the frame.
    """
    # Imported here: matplotlib costs ~1 s, and only this picture needs it.
    import matplotlib

    matplotlib.use("Agg")  # assets run headless; never pick an interactive backend
    import matplotlib.pyplot as plt

    path = Path(path)
    product = forecasts.filter(pl.col("level") == LEVEL_PRODUCT)
    if model_id is None and product.height:
        model_id = product["model_id"].sort()[0]
    product = product.filter(pl.col("model_id") == model_id)
    actuals = with_cadence(actuals, product, "actuals").filter(pl.col("level") == LEVEL_PRODUCT)
    cadences = [c for c in ("weekly", "monthly") if c in product["cadence"].unique().to_list()] or ["weekly"]
    ids = list(product_ids) or ["(none)"]
    fig, axes = plt.subplots(
        len(ids), len(cadences), figsize=(6 * len(cadences), 2.6 * len(ids)), squeeze=False
    )
    for r, pid in enumerate(ids):
        for c, cadence in enumerate(cadences):
            ax = axes[r][c]
            rows = product.filter((pl.col("product_id") == pid) & (pl.col("cadence") == cadence))
            if horizon is None and rows.height:
                rows = rows.filter(pl.col("origin_date") == rows["origin_date"].max())
            elif horizon is not None:
                rows = rows.filter(pl.col("horizon") == horizon)
            rows = rows.sort("target_start")
            act = actuals.filter((pl.col("product_id") == pid) & (pl.col("cadence") == cadence))
            if rows.height:
                first = rows["target_start"].min()
                act = act.filter(pl.col("period_start") >= first - (rows["target_start"].max() - first))
            act = act.sort("period_start")
            x = rows["target_start"].to_list()
            ax.fill_between(x, rows["p10"].to_list(), rows["p90"].to_list(), alpha=0.3, label="P10-P90")
            ax.plot(x, rows["p50"].to_list(), lw=1.5, label="P50")
            ax.plot(act["period_start"].to_list(), act["qty"].to_list(), "k.-", lw=0.8, ms=3, label="actual")
            what = "latest origin" if horizon is None else f"h={horizon}"
            ax.set_title(f"{pid} - {cadence} - {model_id} ({what})", fontsize=9)
            ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def markdown_summary(scores: pl.DataFrame, columns: Sequence[str] = SUMMARY_COLUMNS) -> str:
    """Markdown table of the overall rows (product_group 'ALL' when scores are split by group)."""
    if "product_group" in scores.columns:
        overall = scores.filter(pl.col("product_group") == ALL_GROUPS)
        scores = (overall if overall.height else scores).drop("product_group")
    keys = [c for c in scores.columns if c not in SCORE_COLUMNS]
    shown = [*keys, *[c for c in columns if c in scores.columns]]
    lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    for row in scores.sort(keys).iter_rows(named=True):
        lines.append("| " + " | ".join(_cell(row[c]) for c in shown) + " |")
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}" if value == value else ""
    return str(value)
