"""Robust weekly features of order series: rolling median/MAD baselines, z-scores, zero runs, level changes.

Every feature of week W uses weeks up to W only. Baselines are the median of the ``BASE_WEEKS``
weeks before the week scored; the MAD is taken around that median; the scale has a floor (10 % of
the baseline, and one unit) so a perfectly regular series does not turn every wobble into an alert.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

BASE_WEEKS = 13
YEAR_WEEKS = 52  # a pair's record week and how regularly it orders are judged over the year before
# lengths of an order-less run that can make a drop (see detect.drop_run_weeks): at least a month, because
# up to three quiet weeks is what a year-end break or a skipped order cycle looks like on any steady pair
DROP_RUNS = tuple(range(4, 9))
HALF_WEEKS = 26  # a drop also asks the half-year before it to be steady (see detect.pair_rules)
SHIFT_WEEKS = 4  # weeks after a change point that must agree before a level shift is called
MAD_TO_SD = 1.4826
TOP_LINES = 4  # a week's largest order lines that are compared with the pair's record line


def weekly_grid(orders: pl.DataFrame, keys: list[str], first: date, last: date) -> pl.DataFrame:
    """Order qty per key and ISO week in [first, last] (Mondays), zero-filled between; ``lines`` (order lines
    that week), ``line_median`` (their median, null without one) and ``line_1`` .. ``line_4`` (its largest lines,
    largest first, null where fewer)."""
    weeks = pl.DataFrame({"week_start": pl.date_range(first, last, interval="1w", eager=True)})
    sums = (orders.with_columns(pl.col("order_date").cast(pl.Date).dt.truncate("1w").alias("week_start"))
            .group_by(*keys, "week_start").agg(pl.col("order_qty").sum().alias("qty"), pl.len().cast(pl.Float64).alias("lines"),
                 pl.col("order_qty").median().alias("line_median"), pl.col("order_qty").top_k(TOP_LINES).alias("_top")))
    sums = sums.with_columns(*[pl.col("_top").list.get(i, null_on_oob=True).alias(f"line_{i + 1}")
                               for i in range(TOP_LINES)]).drop("_top")
    grid = sums.select(keys).unique().join(weeks, how="cross")
    return (grid.join(sums, on=[*keys, "week_start"], how="left").with_columns(pl.col("qty").fill_null(0.0), pl.col("lines").fill_null(0.0))
            .sort(*keys, "week_start"))


def _scale(base: pl.Expr, mad: pl.Expr) -> pl.Expr:
    return pl.max_horizontal(MAD_TO_SD * mad, 0.1 * base, pl.lit(1.0))


def _log_exceedance_p(j: pl.Expr, k: pl.Expr, n: pl.Expr) -> pl.Expr:
    """log P(at least j of a week's k lines above the record of the n lines before) for exchangeable lines:
    the top j of all n + k lines are all this week's, C(k, j) / C(n + k, j) = prod_{i < j} (k - i) / (n + k - i).
    Distribution-free: it needs no model of how large lines run, only that lines are exchangeable in the year."""
    terms = [pl.when(j > i).then(((k - i) / (n + k - i)).log()).otherwise(0.0) for i in range(TOP_LINES)]
    return pl.sum_horizontal(*terms)


def pair_features(grid: pl.DataFrame) -> pl.DataFrame:
    """Customer x product weeks with ``base, z, log_ratio(_to_max, _to_year_max), presence, zero_run, rest_log_ratio``."""
    over = ["customer_id", "product_id"]
    product = grid.group_by("product_id", "week_start").agg(pl.col("qty").sum().alias("product_qty"))
    customer = grid.group_by("customer_id", "week_start").agg(pl.col("qty").sum().alias("customer_qty"))
    out = grid.join(product, on=["product_id", "week_start"]).join(customer, on=["customer_id", "week_start"]).sort(*over, "week_start").with_columns(
        pl.col("qty").shift(1).rolling_median(BASE_WEEKS).over(over).alias("base"),
        pl.col("qty").shift(1).rolling_max(BASE_WEEKS).over(over).alias("prior_max"),
        (pl.col("qty") > 0).cast(pl.Float64).shift(1).rolling_mean(BASE_WEEKS).over(over).alias("presence"),
        pl.col("qty").shift(1).rolling_max(YEAR_WEEKS, min_samples=BASE_WEEKS).over(over).alias("year_max"),
        pl.col("line_1").fill_null(0.0).shift(1).rolling_max(YEAR_WEEKS, min_samples=BASE_WEEKS).over(over)
        .alias("year_line_max"),
        pl.col("lines").shift(1).rolling_sum(YEAR_WEEKS, min_samples=BASE_WEEKS).over(over).alias("year_lines"),
        # the pair's usual line: median of its weekly median lines over the year (weeks without one skipped)
        pl.col("line_median").shift(1).rolling_median(YEAR_WEEKS, min_samples=1).over(over).alias("year_line_median"),
        (pl.col("qty") > 0).cast(pl.Float64).shift(1).rolling_sum(YEAR_WEEKS, min_samples=1).over(over)
        .alias("_year_orders"),
        # weeks since the pair's first order (a pair that started this year is judged on its weeks since)
        (pl.col("qty") > 0).cum_max().cast(pl.Int32).cum_sum().shift(1).over(over).alias("_active"),
        (pl.col("product_qty") - pl.col("qty")).alias("rest_qty"),
        (pl.col("customer_qty") - pl.col("qty")).alias("customer_rest_qty"),
    ).with_columns(
        pl.when(pl.col("_active") >= BASE_WEEKS)
        .then(pl.col("_year_orders") / pl.col("_active").clip(None, YEAR_WEEKS)).alias("year_presence"),
        # the weeks the year's presence was judged on and how many of them were empty: a share from 13 weeks
        # is not a share from 52 (``detect.drop_run_weeks`` weighs the count, not only the share)
        pl.col("_active").clip(None, YEAR_WEEKS).alias("year_weeks"),
        (pl.col("_active").clip(None, YEAR_WEEKS) - pl.col("_year_orders")).alias("year_empty"),
        pl.when(pl.col("_active") >= HALF_WEEKS)
        .then((pl.col("qty") > 0).cast(pl.Float64).shift(1).rolling_mean(HALF_WEEKS).over(over))
        .alias("half_presence"),
        (pl.col("qty") - pl.col("base")).abs().shift(1).rolling_median(BASE_WEEKS).over(over).alias("mad"),
        pl.col("rest_qty").shift(1).rolling_median(BASE_WEEKS).over(over).alias("rest_base"),
        pl.col("customer_rest_qty").shift(1).rolling_max(BASE_WEEKS).over(over).alias("customer_rest_max"),
        (pl.col("qty") > 0).cast(pl.Int32).cum_sum().over(over).alias("_spell"),
    ).with_columns(
        # weeks in a row without an order, ending this week
        (pl.col("qty") == 0).cast(pl.Int32).cum_sum().over(*over, "_spell").alias("zero_run"),
    )
    above = pl.sum_horizontal(*[(pl.col(f"line_{i + 1}") > pl.col("year_line_max")).fill_null(False).cast(pl.Int32)
                                for i in range(TOP_LINES)])
    return out.with_columns(
        ((pl.col("qty") - pl.col("base")) / _scale(pl.col("base"), pl.col("mad"))).alias("z"),
        above.alias("lines_above_record"),
        _log_exceedance_p(above, pl.col("lines"), pl.col("year_lines")).alias("line_record_log_p"),
        ((pl.col("qty") + 1).log() - (pl.col("base") + 1).log()).alias("log_ratio"),
        ((pl.col("qty") + 1).log() - (pl.col("prior_max") + 1).log()).alias("log_ratio_to_max"),
        ((pl.col("qty") + 1).log() - (pl.col("year_max") + 1).log()).alias("log_ratio_to_year_max"),
        ((pl.col("rest_qty") + 1).log() - (pl.col("rest_base") + 1).log()).alias("rest_log_ratio"),
        # how regularly the pair ordered in the year before a run of k empty weeks, for each k a drop may need
        *[pl.col(c).shift(k - 1).over(over).alias(f"{c}_before_{k}") for k in DROP_RUNS
          for c in ("year_weeks", "year_empty", "half_presence")],
        *[pl.col("year_presence").shift(k - 1).over(over).alias(f"presence_before_{k}") for k in DROP_RUNS],
        *[pl.col("base").shift(k - 1).over(over).alias(f"base_before_{k}") for k in DROP_RUNS],
    ).drop("_spell", "_year_orders", "_active").drop_nulls(["base", "mad", "presence"])


def product_features(grid: pl.DataFrame) -> pl.DataFrame:
    """Product weeks with the level before and after a candidate change point ``SHIFT_WEEKS - 1`` weeks back."""
    over = "product_id"
    back = SHIFT_WEEKS
    out = grid.sort(over, "week_start").with_columns(
        pl.col("qty").shift(back).rolling_median(BASE_WEEKS).over(over).alias("pre_median"),
        pl.col("qty").rolling_median(SHIFT_WEEKS).over(over).alias("post_median"),
        pl.col("qty").rolling_min(SHIFT_WEEKS).over(over).alias("post_min"),
        pl.col("qty").rolling_max(SHIFT_WEEKS).over(over).alias("post_max"),
        pl.col("qty").shift(1).rolling_median(BASE_WEEKS).over(over).alias("base"),
        (pl.col("qty") > 0).cast(pl.Float64).shift(back).rolling_mean(BASE_WEEKS).over(over).alias("pre_presence"),
    ).with_columns(
        (pl.col("qty").shift(back) - pl.col("pre_median")).abs().rolling_median(BASE_WEEKS).over(over).alias("pre_mad"),
        (pl.col("qty") - pl.col("base")).abs().shift(1).rolling_median(BASE_WEEKS).over(over).alias("mad"),
    )
    scale = _scale(pl.col("pre_median"), pl.col("pre_mad"))
    return out.with_columns(
        ((pl.col("post_median") + 1).log() - (pl.col("pre_median") + 1).log()).alias("level_log_ratio"),
        ((pl.col("post_min") - pl.col("pre_median")) / scale).alias("post_min_z"),
        ((pl.col("post_max") - pl.col("pre_median")) / scale).alias("post_max_z"),
        ((pl.col("qty") - pl.col("base")) / _scale(pl.col("base"), pl.col("mad"))).alias("z"),
        (pl.col("week_start") - timedelta(days=7 * (SHIFT_WEEKS - 1))).alias("event_week"),
    ).drop_nulls(["pre_median", "pre_mad", "base"])
