"""The report's pictures, drawn with matplotlib (already a dependency; no browser-side JS needed).

Figures are built with the object API (``Figure``), not pyplot: no global state, safe in a
multi-threaded webserver process, and nothing interactive. Labels on the pictures are product
ids, dates and numbers only, so one picture serves both languages and needs no CJK font.
"""

from __future__ import annotations

import base64
import io
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:  # matplotlib costs ~1.5 s to import: only the functions that draw import it
    from matplotlib.figure import Figure

DPI = 80


@lru_cache(maxsize=1)
def risk_colours():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("risk", ["#f7fbf3", "#fee08b", "#f46d43", "#a50026"])


def png(fig: Figure) -> bytes:
    # Margins are set explicitly per figure: automatic layout (tight_layout, bbox_inches="tight")
    # measures every text once more, which doubled the time of the text-heavy Gantt chart.
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def data_uri(image: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(image).decode()


def bands_chart(series: list[dict], week) -> bytes | None:
    from matplotlib.figure import Figure

    if not series:
        return None
    cols = 3
    rows = (len(series) + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols, 2.4 * rows))
    for i, s in enumerate(series):
        ax = fig.add_subplot(rows, cols, i + 1)
        for frame, alpha, style in ((s["history"], 0.25, "-"), (s["fan"], 0.15, "--")):
            if frame.height:
                x = frame["target_start"].to_list()
                ax.fill_between(x, frame["p10"].to_list(), frame["p90"].to_list(), color="tab:blue", alpha=alpha, lw=0)
                ax.plot(x, frame["p50"].to_list(), style, color="tab:blue", lw=1.2)
        a = s["actual"]
        ax.plot(a["week_start"].to_list(), a["order_qty"].to_list(), "k.", ms=3.5)
        ax.axvline(week + timedelta(days=3), color="grey", ls=":", lw=0.8)
        ax.set_title(("group: " if s["group"] else "") + s["title"], fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_ylim(bottom=0)
        for label in ax.get_xticklabels():
            label.set_rotation(30)
    fig.tight_layout()
    return png(fig)


def risk_heatmap(risk: pl.DataFrame, risk_types: tuple[str, ...]) -> bytes | None:
    from matplotlib.figure import Figure

    if risk.is_empty():
        return None
    values = risk.select([f"{r}_score" for r in risk_types]).to_numpy()
    height = 0.28 * risk.height + 1.0
    fig = Figure(figsize=(5.6, height))
    fig.subplots_adjust(left=1.3 / 5.6, right=0.86, top=1 - 0.45 / height, bottom=0.15 / height)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(values, cmap=risk_colours(), vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(risk_types)), risk_types, fontsize=8)
    labels = [f"{p}  {g}" for p, g in zip(risk["product_id"], risk["grade"])]
    ax.set_yticks(range(risk.height), labels, fontsize=7)
    ax.xaxis.tick_top()
    for (r, c), v in zip(((r, c) for r in range(values.shape[0]) for c in range(values.shape[1])), values.flat):
        ax.text(c, r, f"{v:.0f}", ha="center", va="center", fontsize=6.5, color="white" if v > 60 else "black")
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02).ax.tick_params(labelsize=7)
    return png(fig)


def gantt(plan: pl.DataFrame, lines: pl.DataFrame, per_line: int = 10) -> bytes | None:
    """One panel per line: a bar per product and week with production, labelled with the quantity."""
    from matplotlib.figure import Figure
    from matplotlib.dates import date2num

    if plan.is_empty():
        return None
    line_ids = sorted(plan["line_id"].drop_nulls().unique().to_list())
    heights, chosen = [], {}
    for line in line_ids:
        rows = plan.filter(pl.col("line_id") == line)
        top = rows.group_by("product_id").agg(pl.col("line_hours").sum()).sort(
            ["line_hours", "product_id"], descending=[True, False])["product_id"].head(per_line).sort(descending=True)
        chosen[line] = top.to_list()
        heights.append(len(chosen[line]) + 1.5)
    height = 0.24 * sum(heights) + 0.35 * len(line_ids) + 0.6
    fig = Figure(figsize=(10, height))
    fig.subplots_adjust(left=0.09, right=0.99, top=1 - 0.3 / height, bottom=0.35 / height,
                        hspace=0.35 * len(line_ids) / max(1.0, sum(heights) * 0.24))
    axes = fig.subplots(len(line_ids), 1, sharex=True, gridspec_kw={"height_ratios": heights}, squeeze=False)[:, 0]
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:cyan", "tab:olive", "tab:pink"]
    for ax, line, colour in zip(axes, line_ids, colours * 10):
        names = chosen[line]
        rows = plan.filter((pl.col("line_id") == line) & pl.col("product_id").is_in(names))
        for y, pid in enumerate(names):
            weeks = rows.filter(pl.col("product_id") == pid).select("week_start", "production_qty").rows()
            ax.broken_barh([(date2num(start), 6) for start, _ in weeks], (y - 0.35, 0.7), color=colour, alpha=0.8)
            for start, qty in weeks:
                ax.text(date2num(start) + 3, y, f"{qty:,.0f}", ha="center", va="center", fontsize=6)
        ax.xaxis_date()
        use = lines.filter(pl.col("line_id") == line) if lines.height else lines
        title = line
        if use.height:
            title += f"  (utilisation avg {use['utilisation'].mean():.0%}, max {use['utilisation'].max():.0%})"
        hidden = plan.filter(pl.col("line_id") == line)["product_id"].n_unique() - len(names)
        if hidden > 0:
            title += f"  +{hidden} products"
        ax.set_title(title, fontsize=8, loc="left")
        ax.set_yticks(range(len(names)), names, fontsize=6.5)
        ax.set_ylim(-0.8, len(names) - 0.2)
        ax.tick_params(axis="x", labelsize=7)
    return png(fig)


def trend_chart(trend: pl.DataFrame) -> bytes | None:
    """KPI trend panels for asset metadata: accuracy, risk counts, adoption and sync."""
    from matplotlib.figure import Figure

    if trend.is_empty():
        return None
    fig = Figure(figsize=(10, 5))
    axes = fig.subplots(2, 2).flat
    x = trend["week_start"].to_list()
    panels = [("mape_core", "MAPE core (target 10-15 %)", 0.15), ("risk_c_or_worse", "products graded C-F", None),
              ("adoption", "actions acted upon (target 80 %)", 0.8), ("sync_success", "sync success (target 99 %)", 0.99)]
    for ax, (column, title, target) in zip(axes, panels):
        if column in trend.columns:
            ax.plot(x, trend[column].to_list(), "o-", ms=3)
        if target is not None:
            ax.axhline(target, color="red", ls="--", lw=0.8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return png(fig)
