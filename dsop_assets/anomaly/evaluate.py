"""Precision and recall per kind against the planted anomalies (``ground_truth/planted_anomalies.csv``).

An alert matches a planted anomaly of the same kind on the same series (customer x product for spikes
and drops, product for level shifts, item for stock counts) whose start week is within
``TOLERANCE_WEEKS`` of the alert's event week (``SHIFT_TOLERANCE_WEEKS`` for level shifts: a shift is
credited at its onset, and a rule that needs four weeks of the new level to call it can place the change
point only to within a few weeks). Only planted anomalies starting inside the scored weeks count.
A spike alert that a later level-shift alert reclassifies as its first week (``reclassify.superseded``) is not
a spike call: it is left out of the spikes' precision and counted as ``superseded``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from dsop_assets.anomaly import reclassify

TOLERANCE_WEEKS = 1
SHIFT_TOLERANCE_WEEKS = 3
KINDS = ("spike", "drop", "level_shift", "stock_mismatch")


def read_planted(erp_dir: str) -> pl.DataFrame | None:
    path = Path(erp_dir) / "ground_truth" / "planted_anomalies.csv"
    if not path.exists():
        return None
    return pl.read_csv(path, schema_overrides={"customer_id": pl.String, "snapshot_date": pl.Date,
                                               "week_start": pl.Date})


def _matches(alerts: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    a = alerts.select("kind", "product_id", pl.col("customer_id").fill_null(""), "event_week").with_row_index("alert")
    t = truth.select("kind", "product_id", pl.col("customer_id").fill_null(""), pl.col("week_start").alias("true_week")) \
        .with_row_index("truth")
    pairs = a.join(t, on=["kind", "product_id", "customer_id"])
    tolerance = pl.when(pl.col("kind") == "level_shift").then(SHIFT_TOLERANCE_WEEKS).otherwise(TOLERANCE_WEEKS)
    return pairs.filter((pl.col("event_week") - pl.col("true_week")).dt.total_days().abs() <= 7 * tolerance)


def score(alerts: pl.DataFrame, truth: pl.DataFrame, first: date, last: date) -> dict[str, dict]:
    """{kind: {alerts, planted, precision, recall}} for alerts and truth with event week in [first, last];
    spikes also ``superseded``, the spike alerts reclassified as a level shift's start."""
    gone = reclassify.superseded(alerts)
    if gone.height:
        alerts = alerts.join(gone, on=["kind", "product_id", "customer_id", "week_start", "event_week"], how="anti")
    alerts = alerts.filter(pl.col("event_week").is_between(first, last))
    truth = truth.filter(pl.col("week_start").is_between(first, last))
    matched = _matches(alerts, truth)
    out = {}
    for kind in KINDS:
        n_alerts = alerts.filter(pl.col("kind") == kind).height
        n_truth = truth.filter(pl.col("kind") == kind).height
        m = matched.filter(pl.col("kind") == kind)
        out[kind] = {
            "alerts": n_alerts, "planted": n_truth,
            "precision": round(m["alert"].n_unique() / n_alerts, 4) if n_alerts else None,
            "recall": round(m["truth"].n_unique() / n_truth, 4) if n_truth else None,
        }
    out["spike"]["superseded"] = gone.filter(pl.col("event_week").is_between(first, last)).height
    return out
