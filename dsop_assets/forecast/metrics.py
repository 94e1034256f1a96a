"""Forecast-vs-actual scores: WAPE, MAPE, sMAPE, MASE, scaled pinball (M5's SPL), coverage, bias.

All ratios are fractions (0.25 = 25 %). The point forecast is P50. Conventions:

* The dense grid: every forecast row whose target period is complete by the export's last day is
  scored, and a period with no order is an actual of 0 (sparse demand histories hold only periods
  with orders; a missing row is zero demand, never "not scored").

* MAPE averages |a - f| / a over non-zero actuals only; sMAPE is 2|f - a| / (|f| + |a|), with 0
  when both are 0 (a correct zero forecast), so it lies in [0, 2].
* Scale of a (series, origin): mean |y_t - y_{t-1}| over consecutive periods (zeros included) from
  the series' first non-zero period up to and including the origin (one-step naive, no seasonality,
  for both cadences) - it is what the forecaster knew.
  Rows whose scale is 0 or undefined (a single period, a constant series) get no scaled error and
  are left out of MASE and SPL; ``n_scaled`` counts the rows that were scored.
* MASE = mean over rows of |a - P50| / scale. SPL_q = mean over rows of pinball_q / scale, every
  (series, origin, horizon) weighted equally - unlike M5, which weights series by sales value;
  WAPE is the volume-weighted view. ``spl_mean`` is the mean of the three quantiles' SPL.
* Coverage is the share of actuals within [P10, P90] (target 0.8), ``below_p10`` / ``above_p90`` the
  shares outside each side (target 0.1 each); bias = sum(P50 - a) / sum(a); ``actual_sum`` is the
  volume behind the volume-weighted ratios.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import polars as pl

from .baselines import SERIES_KEYS

QUANTILE_COLUMNS = {"p10": 0.1, "p50": 0.5, "p90": 0.9}
DEFAULT_GROUP_BY = ("model_id", "cadence", "level", "horizon", "product_group")
ALL_GROUPS = "ALL"
SCORE_COLUMNS = [
    "n", "n_scaled", "wape", "mape", "smape", "mase",
    "spl_p10", "spl_p50", "spl_p90", "spl_mean", "coverage", "below_p10", "above_p90", "bias", "actual_sum",
]


# ---------------------------------------------------------------- hand-checkable definitions
def pinball(y, q, alpha: float) -> float:
    """Mean pinball loss of quantile forecast ``q`` at level ``alpha``."""
    d = np.asarray(y, float) - np.asarray(q, float)
    return float(np.mean(np.maximum(alpha * d, (alpha - 1) * d)))


def wape(y, f) -> float:
    y, f = np.asarray(y, float), np.asarray(f, float)
    return float(np.abs(y - f).sum() / np.abs(y).sum())


def mape(y, f) -> float:
    y, f = np.asarray(y, float), np.asarray(f, float)
    nz = y != 0
    return float(np.mean(np.abs(y[nz] - f[nz]) / np.abs(y[nz]))) if nz.any() else float("nan")


def smape(y, f) -> float:
    y, f = np.asarray(y, float), np.asarray(f, float)
    den = np.abs(y) + np.abs(f)
    return float(np.mean(np.where(den > 0, 2 * np.abs(f - y) / np.where(den > 0, den, 1), 0.0)))


def mase(y, f, scale) -> float:
    y, f, s = np.broadcast_arrays(*(np.asarray(v, float) for v in (y, f, scale)))
    ok = s > 0
    return float(np.mean(np.abs(y[ok] - f[ok]) / s[ok])) if ok.any() else float("nan")


def coverage(y, lo, hi) -> float:
    y, lo, hi = (np.asarray(v, float) for v in (y, lo, hi))
    return float(np.mean((y >= lo) & (y <= hi)))


def bias(y, f) -> float:
    y, f = np.asarray(y, float), np.asarray(f, float)
    return float((f - y).sum() / y.sum())


def last_complete_start(through: date, cadence: str) -> date:
    """Start of the last period of ``cadence`` that has fully ended by ``through`` (inclusive)."""
    nxt = through + timedelta(days=1)
    if cadence == "weekly":
        return nxt - timedelta(days=nxt.weekday()) - timedelta(weeks=1)
    first = date(nxt.year, nxt.month, 1)
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def _through_periods(history: pl.DataFrame, through: date | dict[str, date] | None) -> pl.DataFrame:
    """cadence -> integer index of the last complete period to score (inclusive)."""
    cadences = history["cadence"].unique().to_list()
    if through is None:  # the frame's own last period is taken as complete
        last = history.group_by("cadence").agg(pl.col("period_start").max().alias("last_start"))
    else:
        last = pl.DataFrame({"cadence": cadences, "last_start": [
            last_complete_start(through[c] if isinstance(through, dict) else through, c) for c in cadences]},
            schema={"cadence": pl.String, "last_start": pl.Date})
    return last.with_columns(last_t=_period_index("last_start"))


def _period_index(col: str) -> pl.Expr:
    d = pl.col(col)
    weekly = (d.cast(pl.Int64) - 4) // 7
    monthly = (d.dt.year().cast(pl.Int64) - 1970) * 12 + d.dt.month().cast(pl.Int64) - 1
    return pl.when(pl.col("cadence") == "weekly").then(weekly).otherwise(monthly)


def dense_history(history: pl.DataFrame, through: date | dict[str, date] | None = None) -> pl.DataFrame:
    """Every period of every series from its first non-zero period through the last complete one,
    zeros where the (sparse) history has no row: (cadence, keys..., period_start, t, qty)."""
    history = history if "cadence" in history.columns else history.with_columns(cadence=pl.lit("weekly"))
    keys = ["cadence", *SERIES_KEYS]
    frame = history.select(*keys, "period_start", "qty").with_columns(t=_period_index("period_start"))
    last = _through_periods(history, through)
    first = frame.filter(pl.col("qty") != 0).group_by(keys).agg(first_t=pl.col("t").min())
    grid = (first.join(last.select("cadence", "last_t"), on="cadence")
            .filter(pl.col("first_t") <= pl.col("last_t"))
            .with_columns(t=pl.int_ranges("first_t", pl.col("last_t") + 1)).explode("t")
            .select(*keys, "t"))
    dense = grid.join(frame.select(*keys, "t", "qty"), on=[*keys, "t"], how="left").with_columns(
        pl.col("qty").fill_null(0.0).cast(pl.Float64))
    weekly_start = (pl.col("t") * 7 + 4).cast(pl.Int32).cast(pl.Date)
    monthly_start = pl.date(1970 + pl.col("t") // 12, pl.col("t") % 12 + 1, 1)
    return dense.with_columns(
        period_start=pl.when(pl.col("cadence") == "weekly").then(weekly_start).otherwise(monthly_start)
    ).sort(*keys, "t")


def naive_scale(history: pl.DataFrame, through: date | dict[str, date] | None = None) -> pl.DataFrame:
    """Per series and period: mean |y_t - y_{t-1}| over consecutive periods (zeros included) from the
    series' first non-zero period up to that period; null while there is no step yet."""
    had_cadence = "cadence" in history.columns
    dense = dense_history(history, through)
    keys = ["cadence", *SERIES_KEYS]
    step = (pl.col("qty") - pl.col("qty").shift(1)).abs().over(keys)
    out = (
        dense.with_columns(step=step)
        .with_columns(scale=pl.col("step").cum_sum().over(keys) / pl.col("step").cum_count().over(keys))
        .select(*keys, pl.col("period_start").alias("origin_date"), "scale")
    )
    return out if had_cadence else out.drop("cadence")


# ---------------------------------------------------------------- scoring
def with_cadence(frame: pl.DataFrame, forecasts: pl.DataFrame, name: str) -> pl.DataFrame:
    """Weekly and monthly period starts can coincide, so a frame covering both must say which."""
    if "cadence" in frame.columns:
        return frame
    cadences = forecasts["cadence"].unique()
    if cadences.len() > 1:
        raise ValueError(f"{name} needs a 'cadence' column when forecasts mix weekly and monthly")
    return frame.with_columns(cadence=pl.lit(cadences[0] if cadences.len() else "weekly"))


def _pinball_expr(col: str, alpha: float) -> pl.Expr:
    d = pl.col("actual") - pl.col(col)
    return pl.max_horizontal(alpha * d, (alpha - 1) * d)


def scored_rows(
    forecasts: pl.DataFrame, actuals: pl.DataFrame, history: pl.DataFrame,
    product_groups: pl.DataFrame | None = None, through: date | dict[str, date] | None = None,
) -> pl.DataFrame:
    """Forecast rows on the dense grid, joined to their actual (0 when nothing was ordered) and
    scale, with each row's error terms.

    Every forecast row whose target period is complete by ``through`` (a date, or one per cadence;
    default: the last period in ``actuals``) is scored; later targets (the future) are dropped.
    """
    actuals = with_cadence(actuals, forecasts, "actuals")
    history = with_cadence(history, forecasts, "history")
    keys = ["cadence", *SERIES_KEYS]
    last = _through_periods(actuals, through).select("cadence", "last_start")
    act = actuals.select(*keys, pl.col("period_start").alias("target_start"), pl.col("qty").alias("actual"))
    act = act.group_by(keys + ["target_start"]).agg(pl.col("actual").sum())
    scale = naive_scale(history.select(*keys, "period_start", "qty"), through)
    rows = (
        forecasts.join(last, on="cadence")
        .filter(pl.col("target_start") <= pl.col("last_start")).drop("last_start")
        .join(act, on=[*keys, "target_start"], how="left")
        .with_columns(pl.col("actual").fill_null(0.0))
        .join(scale.select(*keys, "origin_date", "scale"), on=[*keys, "origin_date"], how="left")
    )
    if product_groups is not None:
        rows = rows.drop("product_group", strict=False).join(
            product_groups.select("product_id", "product_group"), on="product_id", how="left"
        )
    elif "product_group" not in rows.columns:
        rows = rows.with_columns(product_group=pl.lit(ALL_GROUPS))
    a, f = pl.col("actual"), pl.col("p50")
    usable = pl.col("scale") > 0
    return rows.with_columns(
        pl.col("product_group").fill_null("unknown"),
        abs_err=(a - f).abs(),
        ape=pl.when(a != 0).then((a - f).abs() / a.abs()),
        sape=pl.when(a.abs() + f.abs() > 0).then(2 * (f - a).abs() / (a.abs() + f.abs())).otherwise(0.0),
        scaled_err=pl.when(usable).then((a - f).abs() / pl.col("scale")),
        covered=((a >= pl.col("p10")) & (a <= pl.col("p90"))).cast(pl.Float64),
        below=(a < pl.col("p10")).cast(pl.Float64),
        above=(a > pl.col("p90")).cast(pl.Float64),
        **{
            f"spl_{c}": pl.when(usable).then(_pinball_expr(c, alpha) / pl.col("scale"))
            for c, alpha in QUANTILE_COLUMNS.items()
        },
    )


def _aggregate(rows: pl.DataFrame, group_by: Sequence[str]) -> pl.DataFrame:
    a, total = pl.col("actual"), pl.col("actual").sum()
    per_total = lambda e: pl.when(total != 0).then(e / total)  # noqa: E731
    return rows.group_by(group_by).agg(
        n=pl.len(),
        n_scaled=pl.col("scaled_err").count(),
        wape=per_total(pl.col("abs_err").sum()),
        mape=pl.col("ape").mean(),
        smape=pl.col("sape").mean(),
        mase=pl.col("scaled_err").mean(),
        spl_p10=pl.col("spl_p10").mean(),
        spl_p50=pl.col("spl_p50").mean(),
        spl_p90=pl.col("spl_p90").mean(),
        spl_mean=pl.mean_horizontal(pl.col("spl_p10", "spl_p50", "spl_p90").mean()),
        coverage=pl.col("covered").mean(),
        below_p10=pl.col("below").mean(),
        above_p90=pl.col("above").mean(),
        bias=per_total((pl.col("p50") - a).sum()),
        actual_sum=a.sum(),
    )


def score_forecasts(
    forecasts: pl.DataFrame,
    actuals: pl.DataFrame,
    history: pl.DataFrame,
    group_by: Sequence[str] = DEFAULT_GROUP_BY,
    product_groups: pl.DataFrame | None = None,
    through: date | dict[str, date] | None = None,
) -> pl.DataFrame:
    """Scores per ``group_by``; when that includes product_group, also product_group 'ALL' rows.

    ``actuals`` and ``history`` are demand-history frames (level, product_id, customer_id,
    period_start, qty), with a ``cadence`` column if the forecasts mix cadences; usually the same
    frame; absent periods are zero demand. ``through`` is the export's last day: every period complete
    by then is scored. ``product_groups`` (product_id, product_group) labels products; without it (and without
    a product_group column on the forecasts) every row is in group 'ALL'.
    """
    rows = scored_rows(forecasts, actuals, history, product_groups, through)
    group_by = list(group_by)
    out = _aggregate(rows, group_by)
    if "product_group" in group_by and rows["product_group"].unique().to_list() != [ALL_GROUPS]:
        overall = _aggregate(rows.with_columns(product_group=pl.lit(ALL_GROUPS)), group_by)
        out = pl.concat([out, overall])
    return out.select(*group_by, *SCORE_COLUMNS).sort(group_by)
