"""Which weeks are anomalous, and of which kind: statistical rules, an Isolation Forest, and both.

Rules (the baseline, one per kind):
* spike: a week that breaks the pair's record of the year before by more than chance would, once in
  ``1 / SPIKE_ALPHA`` pair-weeks: the size of record breaks (log of week / previous record, where > 0)
  is modelled as exponential, fitted each week on all steady pairs' weeks of the year before (leak-free;
  ``spike_thresholds``); on the demo that puts the bar at 3-7x the record (median 4-5x), above every natural
  week. Or, at the same chance (each test at half of ``SPIKE_ALPHA``), a week whose order lines beat the pair's
  record line more often than exchangeable lines would (``features.line_record_log_p``), called
  ``LINE_SPIKE_LAG`` weeks later if the level has not stayed up. Only on a pair that orders in most weeks;
* drop: a run of k weeks without an order on a pair that ordered in >= 85 % of its weeks of the year before
  it and of the half-year before it, where k is the shortest run that chance would give less than once in
  ``1 / DROP_ALPHA`` pair-weeks, and at least four weeks (``features.DROP_RUNS``). The chance is the
  posterior predictive of k empty weeks after m empty of n judged (uniform prior on the weekly chance of an
  empty week; ``drop_run_log_p``), not (m / n)^k: a pair seen for 13 weeks without a gap has not shown a
  gap rate of zero. A pair needs half a year of orders (``features.HALF_WEEKS``) before its silence is
  judged. Not when the product has reached its end of life in the product master (``eol_date``): a
  discontinued product's customers all stop, as planned;
* level_shift: a change-point test on the product's market-adjusted series (``shift``);
* stock_mismatch: a month-start count differs from the estimate carried from the previous count by
  >= 25 % (and one unit); the mirror-image error one count later (the estimate now starts from the bad
  count) is not a second anomaly.

The Isolation Forest is fitted every ``IF_REFIT_WEEKS`` weeks on the trailing ``IF_WEEKS`` weeks of feature rows of every
series (unsupervised, leak-free) and scores that week's rows; ``if_flag`` is its own verdict (score
below the forest's offset). An alert is raised where the rule and the forest agree.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from dsop_assets.anomaly.features import BASE_WEEKS, DROP_RUNS, HALF_WEEKS, YEAR_WEEKS

SPIKE_ALPHA = 1e-5  # chance of a record break this large on a steady pair, per pair-week
SPIKE_FLOOR = np.log(2.0)  # never less than twice the record, however quiet the book's year was
SPIKE_FIT_AT = np.log(1.5)  # about the 90th percentile of natural record breaks on the demo
# a week's median line twice the pair's usual one is a level as large as a level shift's (shift.MIN_LOG_SHIFT)
SHIFT_LINES = 2.0
LINE_SPIKE_LAG = 2  # weeks after a week of record lines before it is called a spike, not a new level
SPIKE_MIN_WEEKS = 4  # ~1,000 steady pair-weeks: enough for two counts, and the bar exists early in a history
STEADY = 0.85
DROP_PRESENCE = 0.85
DROP_ALPHA = 1e-5  # chance of a run of empty weeks on a pair, judged as independent weeks
SHIFT_UP = np.log(1.8)  # what the forest's own product flags must move by to be called a level shift
STOCK_REL = 0.25
IF_WEEKS = 52
IF_TREES = 100
IF_REFIT_WEEKS = 4  # a forest serves the week it was fitted in and the next three, like the forecasts' refits
SEED = 0

PAIR_IF_FEATURES = ["z", "log_ratio", "log_ratio_to_max", "log_ratio_to_year_max", "line_record_log_p",
                    "presence", "year_presence", "zero_run", "rest_log_ratio"]
PRODUCT_IF_FEATURES = ["level_log_ratio", "post_min_z", "post_max_z", "z", "forecast_residual"]


def drop_run_log_p(k: int, weeks: pl.Expr, empty: pl.Expr) -> pl.Expr:
    """log P(the next k weeks all empty | ``empty`` of ``weeks`` judged were), weeks independent with an unknown
    chance of being empty, uniform prior: the beta-binomial's prod_{i < k} (m + 1 + i) / (n + 2 + i). Against the
    plug-in (m / n)^k it charges for how few weeks the share rests on: with no gap in 13 weeks a run of 4
    has chance 3e-4 (the plug-in says 0), in 52 weeks 2.5e-6."""
    return pl.sum_horizontal(*[((empty + 1 + i) / (weeks + 2 + i)).log() for i in range(k)])


def drop_run_weeks(weeks: pl.Expr, empty: pl.Expr) -> pl.Expr:
    """The run of empty weeks that makes a drop: the shortest k in ``DROP_RUNS`` whose chance after ``empty``
    of ``weeks`` judged is <= ``DROP_ALPHA``; null where even the longest is not that rare."""
    run = pl.lit(None, pl.Int32)
    for k in reversed(DROP_RUNS):
        run = pl.when(drop_run_log_p(k, weeks, empty) <= np.log(DROP_ALPHA)).then(pl.lit(k, pl.Int32)).otherwise(run)
    return run


def judged_steady() -> pl.Expr:
    """A pair whose record can be broken: it orders in most weeks and has done so for half a year. A record of
    13-20 weeks is broken far more often than a year's (one false spike of 16 histories was a pair 18 weeks old
    whose level was still settling)."""
    return (pl.col("base") > 0) & (pl.col("year_presence") >= STEADY) & (pl.col("year_weeks") >= HALF_WEEKS)


def spike_thresholds(f: pl.DataFrame, alpha: float = SPIKE_ALPHA) -> pl.DataFrame:
    """week_start -> ``spike_bar``: the log record break that steady pairs exceed with chance ``SPIKE_ALPHA``,
    from the 52 weeks before. Breaks (log week / previous record, where > 0) are taken as exponential: p0 =
    share of steady pair-weeks that break their record, rate from the share of breaks beyond
    ``SPIKE_FIT_AT``. A count, not a mean, so that the very anomalies it is to find barely move it (with
    the mean, last year's planted spikes lifted the bar from 4.6x to 9x the record)."""
    # fitted on every pair 13+ weeks old, not only those ``judged_steady``: the young pairs' frequent breaks keep
    # the bar cautious, and the bar exists from the 17th week of a history on (on the judged pairs alone it moved
    # with the few pairs old enough in a history's first year, and lost a planted spike there)
    steady = (pl.col("year_presence") >= STEADY) & (pl.col("base") > 0) & pl.col("log_ratio_to_year_max").is_not_null()
    broke = steady & (pl.col("log_ratio_to_year_max") > 0)
    weekly = f.group_by("week_start").agg(
        steady.sum().alias("n"), broke.sum().alias("k"),
        (broke & (pl.col("log_ratio_to_year_max") >= SPIKE_FIT_AT)).sum().alias("k_far")).sort("week_start")
    n, k, k_far = [pl.col(c).shift(1).rolling_sum(YEAR_WEEKS, min_samples=SPIKE_MIN_WEEKS) for c in ("n", "k", "k_far")]
    rate = ((k + 1) / (k_far + 0.5)).log() / SPIKE_FIT_AT  # smoothed: a quiet book gives a steep tail, not none
    bar = ((k / n / alpha).log() / rate).fill_nan(None).clip(SPIKE_FLOOR, None).fill_null(SPIKE_FLOOR)
    return weekly.select("week_start", bar.alias("spike_bar"))


def pair_rules(f: pl.DataFrame, eol: pl.DataFrame | None = None) -> pl.DataFrame:
    """Rule verdicts on ``pair_features`` rows; ``eol``: product_id, eol_date (the product master's)."""
    eol = eol if eol is not None else pl.DataFrame(schema={"product_id": pl.String, "eol_date": pl.Date})
    f = f.join(eol.select("product_id", pl.col("eol_date").cast(pl.Date)), on="product_id", how="left")
    f = f.join(spike_thresholds(f, SPIKE_ALPHA / 2), on="week_start", how="left")
    # No test on the product's other customers: with the bar this high a product-wide move does not reach
    # it, and their own lumps coincided with 2 of 14 planted spikes on a held-out seed.
    # Two tests of a record week, each at half the chance (Bonferroni). The week's total against the pair's
    # record week, called that week. And how many of the week's order lines beat the pair's record line
    # (``line_record_log_p``): the count of lines a week swings the totals, their sizes much less, so this
    # sees a week of large lines that the totals' record hides. Its false calls were the first week of a new,
    # higher level (every line of it beats the record too), so it is called ``LINE_SPIKE_LAG`` weeks later,
    # where the weeks since stay at or below the record before it and their median line is less than twice
    # the pair's usual (a new level of 2x or more is a level shift's business); event week = the record week.
    steady = judged_steady()
    spike = (pl.col("log_ratio_to_year_max") >= pl.col("spike_bar")) & steady
    pair = ["customer_id", "product_id"]
    lag = LINE_SPIKE_LAG
    # The week's total must also beat the pair's record week by ``SPIKE_FLOOR`` (the totals' test's own floor):
    # large lines in a week no larger than the year's largest are not more demand than the pair has placed
    # (one false spike of 16 histories: the first week of a planted x3 level shift, its total under the record).
    line_spike = ((pl.col("line_record_log_p") <= np.log(SPIKE_ALPHA / 2)) & steady
                  & (pl.col("log_ratio_to_year_max") >= SPIKE_FLOOR)).shift(lag).over(pair) \
        & ~spike.shift(lag).over(pair).fill_null(False)
    for back in range(lag):  # the weeks since: no line above the record the spike week beat, no doubled level
        line_spike = line_spike & (pl.col("line_1").fill_null(0.0).shift(back).over(pair)
                                   <= pl.col("year_line_max").shift(lag).over(pair)) \
            & (pl.col("line_median").shift(back).over(pair).fill_null(0.0)
               < SHIFT_LINES * pl.col("year_line_median").shift(lag).over(pair))
    f = f.sort(*pair, "week_start").with_columns(line_spike.fill_null(False).alias("_line_spike"),
                                                 pl.col("base").shift(lag).over(pair).alias("_base_before"))
    # the product's other customers, and the customer's other products, where there are any, go on ordering
    # A product at its end of life (from a week before its eol_date on) stops by plan. Neither the product's
    # other customers nor the customer's other products are asked to go on ordering: on the demo that
    # missed every drop of a product's only customer or of a one-product customer (recall 0.43 -> 0.83-0.93).
    run_start = pl.col("week_start") - pl.duration(weeks=pl.col("zero_run") - 1)
    others_order = pl.col("eol_date").is_null() | (run_start < pl.col("eol_date") - pl.duration(weeks=1))
    # Steady in the year before the run and in its last half-year: a pair whose orders had thinned to fewer
    # than 85 % of weeks before it stopped was fading, not dropping (three false drops of 16 histories were
    # such pairs, 22 of their last 26 weeks with an order). The half-year's share exists only after half a
    # year of orders: a pair 13-20 weeks old that stops (four false drops) had not shown a rhythm to break.
    run = pl.lit(None, pl.Int32)
    for k in reversed(DROP_RUNS):
        steady = (pl.col(f"presence_before_{k}") >= DROP_PRESENCE) & (pl.col(f"half_presence_before_{k}") >= DROP_PRESENCE)
        needed = drop_run_weeks(pl.col(f"year_weeks_before_{k}"), pl.col(f"year_empty_before_{k}"))
        hit = ((pl.col("zero_run") == k) & steady & (needed == k)
               & (pl.col(f"base_before_{k}") > 0) & others_order)
        run = pl.when(hit).then(pl.lit(k, pl.Int32)).otherwise(run)
    base_before = pl.lit(None, pl.Float64)
    for k in DROP_RUNS:
        base_before = pl.when(run == k).then(pl.col(f"base_before_{k}")).otherwise(base_before)
    drop = run.is_not_null()
    lagged = pl.col("_line_spike") & ~spike & ~drop
    return f.with_columns(
        pl.when(spike | lagged).then(pl.lit("spike")).when(drop).then(pl.lit("drop")).otherwise(None)
        .alias("rule_kind"),
        pl.when(drop).then(pl.col("week_start") - pl.duration(weeks=run - 1))
        .when(lagged).then(pl.col("week_start") - pl.duration(weeks=LINE_SPIKE_LAG))
        .otherwise(pl.col("week_start")).alias("event_week"),
        pl.when(drop).then(base_before).when(lagged).then(pl.col("_base_before")).otherwise(pl.col("base"))
        .alias("expected"),
        # the forest confirms the record week itself, a week back for a lagged call (``confirm_if``)
        pl.when(lagged).then(pl.lit(LINE_SPIKE_LAG)).otherwise(pl.lit(0)).alias("if_lag"),
    ).drop("_line_spike", "_base_before")


def confirm_if(scored: pl.DataFrame) -> pl.DataFrame:
    """The forest's verdict (and score, qty, z) that a rule's call rests on: the record week's, ``LINE_SPIKE_LAG``
    weeks back, for a lagged line-record spike (``scored`` must hold that week's rows too)."""
    cols = ["if_flag", "if_score", "qty", "z"]
    event = scored.select("customer_id", "product_id",
                          (pl.col("week_start") + pl.duration(weeks=LINE_SPIKE_LAG)).alias("week_start"),
                          *[pl.col(c).alias(f"_event_{c}") for c in cols])
    out = scored.join(event, on=["customer_id", "product_id", "week_start"], how="left")
    lagged = pl.col("if_lag") > 0
    return out.with_columns(
        pl.when(lagged).then(pl.col("_event_if_flag").fill_null(False)).otherwise(pl.col("if_flag")).alias("if_flag"),
        *[pl.when(lagged).then(pl.col(f"_event_{c}")).otherwise(pl.col(c)).alias(c) for c in cols[1:]],
    ).drop(*[f"_event_{c}" for c in cols])


def isolation_scores(f: pl.DataFrame, features: list[str], weeks: list[date]) -> pl.DataFrame:
    """``f`` rows of ``weeks`` with ``if_score`` (lower = stranger) and ``if_flag``; one forest per week."""
    from sklearn.ensemble import IsolationForest  # sklearn costs seconds to import: only when scoring

    out = []
    forest, fitted = None, None
    for week in weeks:
        now = f.filter(pl.col("week_start") == week)
        if now.is_empty():
            continue
        # refit on a fixed calendar (weeks since 2000-01-03), so a week gets the same forest in any run range
        refit = week - timedelta(days=7 * (((week - date(2000, 1, 3)).days // 7) % IF_REFIT_WEEKS))
        if fitted != refit:
            train = f.filter(pl.col("week_start").is_between(refit - timedelta(days=7 * IF_WEEKS), refit))
            x_train = np.nan_to_num(train.select(features).to_numpy().astype(float))
            forest, fitted = IsolationForest(n_estimators=IF_TREES, random_state=SEED).fit(x_train), refit
        score = forest.decision_function(np.nan_to_num(now.select(features).to_numpy().astype(float)))
        out.append(now.with_columns(pl.Series("if_score", score), pl.Series("if_flag", score < 0)))
    return pl.concat(out) if out else f.head(0).with_columns(pl.lit(0.0).alias("if_score"), pl.lit(False).alias("if_flag"))


def if_kind_pairs(f: pl.DataFrame) -> pl.Expr:
    """The kind the forest's own flags would get, from the sign of what moved (for its standalone score)."""
    return (pl.when(~pl.col("if_flag")).then(None)
            .when(pl.col("zero_run") >= DROP_RUNS[0]).then(pl.lit("drop"))
            .when(pl.col("z") > 0).then(pl.lit("spike")).otherwise(None))


def stock_mismatches(reconciliation: pl.DataFrame) -> pl.DataFrame:
    """Counts off the flow-implied stock; ``reconciliation`` as ``inventory_reconciliation``, all counts in range."""
    rel = (pl.col("snapshot_qty") - pl.col("estimated_qty")).abs() / pl.max_horizontal(
        pl.col("snapshot_qty").abs(), pl.col("estimated_qty").abs(), pl.lit(1.0))
    big = (rel >= STOCK_REL) & ((pl.col("snapshot_qty") - pl.col("estimated_qty")).abs() >= 1.0)
    signed = pl.col("snapshot_qty") - pl.col("estimated_qty")
    r = reconciliation.sort("item_id", "snapshot_date").with_columns(big.alias("_big"), signed.alias("_err"))
    # the count after a bad one inherits its error with the opposite sign: that is the same event
    echo = (pl.col("_big").shift(1).over("item_id").fill_null(False)
            & (pl.col("_err") * pl.col("_err").shift(1).over("item_id") < 0))
    return r.with_columns(
        pl.when(pl.col("_big") & ~echo).then(pl.lit("stock_mismatch")).otherwise(None).alias("rule_kind"),
        pl.col("snapshot_date").cast(pl.Date).dt.truncate("1w").alias("week_start"),
    ).drop("_big", "_err")
