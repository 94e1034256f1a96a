"""Which weeks are anomalous, and of which kind: statistical rules, an Isolation Forest, and both.

Rules (the baseline, one per kind):
* spike: robust z >= ``SPIKE_Z`` and above 2.5x the largest week of the previous quarter, on a pair that
  orders in most weeks, while the product's other customers stay near their level (else the product moves);
* drop: the ``DROP_WEEKS``-th week in a row without an order, on a pair that ordered in >= 85 % of the
  weeks before the gap, while the product's other customers still order;
* level_shift: the last ``SHIFT_WEEKS`` weeks of a product all beyond ``SHIFT_Z`` scaled MADs of the 13
  weeks before them (in which it was ordered most weeks) and their median at least 1.8x (or at most
  0.55x) that level; called once, at the first week it holds;
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

from dsop_assets.anomaly.features import DROP_WEEKS

SPIKE_Z = 8.0
SPIKE_OVER_MAX = np.log(2.5)  # above 2.5x the largest week of the last quarter
STEADY = 0.85
DROP_PRESENCE = 12 / 13
REST_CALM = np.log(1.5)
SHIFT_UP, SHIFT_DOWN = np.log(1.8), np.log(0.55)
SHIFT_Z = 2.0
SHIFT_PRESENCE = 0.9  # a product that was not ordered most weeks before is launching, not shifting
STOCK_REL = 0.25
IF_WEEKS = 52
IF_TREES = 100
IF_REFIT_WEEKS = 4  # a forest serves the week it was fitted in and the next three, like the forecasts' refits
SEED = 0

PAIR_IF_FEATURES = ["z", "log_ratio", "log_ratio_to_max", "presence", "zero_run", "rest_log_ratio"]
PRODUCT_IF_FEATURES = ["level_log_ratio", "post_min_z", "post_max_z", "z", "forecast_residual"]


def pair_rules(f: pl.DataFrame) -> pl.DataFrame:
    spike = ((pl.col("z") >= SPIKE_Z) & (pl.col("log_ratio_to_max") >= SPIKE_OVER_MAX) & (pl.col("base") > 0)
             & (pl.col("presence") >= STEADY) & (pl.col("rest_log_ratio").fill_null(0.0) < REST_CALM))
    drop = ((pl.col("zero_run") == DROP_WEEKS) & (pl.col("presence_before_run") >= DROP_PRESENCE)
            & (pl.col("base_before_run") > 0) & (pl.col("rest_qty") > 0))  # others still order: not the product stopping
    return f.with_columns(
        pl.when(spike).then(pl.lit("spike")).when(drop).then(pl.lit("drop")).otherwise(None).alias("rule_kind"),
        pl.when(drop).then(pl.col("week_start") - timedelta(days=7 * (DROP_WEEKS - 1)))
        .otherwise(pl.col("week_start")).alias("event_week"),
        pl.when(drop).then(pl.col("base_before_run")).otherwise(pl.col("base")).alias("expected"),
    )


def product_rules(f: pl.DataFrame) -> pl.DataFrame:
    up = (pl.col("level_log_ratio") >= SHIFT_UP) & (pl.col("post_min_z") >= SHIFT_Z)
    down = (pl.col("level_log_ratio") <= SHIFT_DOWN) & (pl.col("post_max_z") <= -SHIFT_Z)
    holds = (up | down) & (pl.col("pre_presence") >= SHIFT_PRESENCE)
    first = holds & ~holds.shift(1).over("product_id").fill_null(False)
    return f.with_columns(pl.when(first).then(pl.lit("level_shift")).otherwise(None).alias("rule_kind"),
                          pl.col("pre_median").alias("expected"))


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
            .when(pl.col("zero_run") >= DROP_WEEKS).then(pl.lit("drop"))
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
