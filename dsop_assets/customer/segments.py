"""K-means customer segments with k chosen by silhouette, named profiles, and month-to-month stability.

Segments are fitted on standardised, log-compressed features (``features.model_matrix``). Labels of
k-means are arbitrary, so two months are compared after matching the current centroids to the
previous month's (Hungarian method on centroid distances, in the current month's scaled space).
Names come from the profile, not the label: the highest-revenue segment is "key accounts", then the
one that has gone quietest (recency), the fastest-growing, and the rest by size of spend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:  # sklearn and scipy cost seconds to import: imported where a segment is fitted
    from sklearn.cluster import KMeans

from dsop_assets.customer.features import FEATURES, model_matrix

K_RANGE = range(2, 9)
SEED = 0
LAPSING_DAYS = 60  # median recency beyond which a segment is "lapsing"
GROWING = 0.2  # median growth beyond which a segment is "growing"

STRATEGIES = {
    "key accounts": "Protect supply: priority allocation, review safety stock of their products, quarterly review.",
    "lapsing": "Account review: contact before they churn; check service issues, prices and open orders.",
    "growing": "Secure capacity ahead of their ramp; share forecasts and agree volumes with them.",
    "core regular": "Serve from stock on standard terms; keep forecasts and safety stock current.",
    "small / occasional": "Make to order, consolidate shipments, review cost to serve and minimum order size.",
}


def fit_kmeans(x: np.ndarray, k: int) -> KMeans:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=10, random_state=SEED).fit(x)


def choose_k(x: np.ndarray) -> tuple[int, dict[int, float]]:
    """k in 2..8 with the best silhouette (ties: the smaller k); k must leave >= 2 points per cluster."""
    from sklearn.metrics import silhouette_score

    scores: dict[int, float] = {}
    for k in K_RANGE:
        if x.shape[0] < 2 * k + 1:
            break
        labels = fit_kmeans(x, k).labels_
        if len(set(labels)) < 2:
            continue
        scores[k] = round(float(silhouette_score(x, labels)), 4)
    if not scores:
        return 1, {}
    best = max(scores, key=lambda k: (scores[k], -k))
    return best, scores


def segment_month(features: pl.DataFrame, k: int | None = None) -> tuple[pl.DataFrame, dict]:
    """``features`` (one month) with ``segment`` (0..k-1); info: k, silhouettes, scaler, centroids."""
    from sklearn.preprocessing import StandardScaler

    x_raw = model_matrix(features)
    scaler = StandardScaler().fit(x_raw)
    x = scaler.transform(x_raw)
    silhouettes: dict[int, float] = {}
    if k is None:
        k, silhouettes = choose_k(x)
    if k <= 1:
        labels = np.zeros(x.shape[0], dtype=int)
        centroids = x.mean(0, keepdims=True)
    else:
        model = fit_kmeans(x, k)
        labels, centroids = model.labels_, model.cluster_centers_
    out = features.with_columns(pl.Series("segment", labels, dtype=pl.Int64))
    return out, {"k": k, "silhouettes": silhouettes, "scaler": scaler, "centroids": centroids}


def align_labels(current: dict, previous_features: pl.DataFrame, previous_labels: np.ndarray) -> dict[int, int]:
    """Map each previous label to the current label whose centroid is nearest (Hungarian method)."""
    from scipy.optimize import linear_sum_assignment

    x_prev = current["scaler"].transform(model_matrix(previous_features))
    prev_centroids = np.vstack([x_prev[previous_labels == j].mean(0) for j in np.unique(previous_labels)])
    cost = ((prev_centroids[:, None, :] - current["centroids"][None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    prev_ids = np.unique(previous_labels)
    return {int(prev_ids[r]): int(c) for r, c in zip(rows, cols)}


def stability(current: pl.DataFrame, previous: pl.DataFrame, mapping: dict[int, int]) -> dict:
    """Share of customers present in both months whose (aligned) segment changed."""
    both = current.select("customer_id", "segment").join(
        previous.select("customer_id", pl.col("segment").alias("prev")), on="customer_id")
    if both.is_empty():
        return {"customers_in_both": 0, "changed_share": None}
    mapped = both["prev"].replace_strict(mapping, default=-1)
    changed = float((mapped != both["segment"]).mean())
    return {"customers_in_both": both.height, "changed_share": round(changed, 4)}


def name_segments(segmented: pl.DataFrame) -> pl.DataFrame:
    """``segment, segment_name, strategy`` from each segment's medians."""
    med = segmented.group_by("segment").agg(
        pl.col("monetary_krw").median(), pl.col("recency_days").median(), pl.col("growth").median()
    ).sort("segment")
    names: dict[int, str] = {}
    left = med
    if med.height > 1:
        key = int(left.sort("monetary_krw", descending=True)["segment"][0])
        names[key] = "key accounts"
        left = left.filter(pl.col("segment") != key)
    quiet = left.filter(pl.col("recency_days") >= LAPSING_DAYS).sort("recency_days", descending=True)
    if quiet.height:
        names[int(quiet["segment"][0])] = "lapsing"
        left = left.filter(pl.col("segment") != quiet["segment"][0])
    rising = left.filter(pl.col("growth") >= GROWING).sort("growth", descending=True)
    if rising.height:
        names[int(rising["segment"][0])] = "growing"
        left = left.filter(pl.col("segment") != rising["segment"][0])
    rest = left.sort("monetary_krw", descending=True)["segment"].to_list()
    for i, seg in enumerate(rest):
        base = "core regular" if i < (len(rest) + 1) // 2 else "small / occasional"
        names[int(seg)] = base
    counts: dict[str, int] = {}
    rows = []
    for seg in sorted(names):
        base = names[seg]
        counts[base] = counts.get(base, 0) + 1
        label = base if counts[base] == 1 else f"{base} ({counts[base]})"
        rows.append((seg, label, STRATEGIES[base]))
    return pl.DataFrame(rows, schema={"segment": pl.Int64, "segment_name": pl.String, "strategy": pl.String},
                        orient="row")


def profiles(segmented: pl.DataFrame) -> pl.DataFrame:
    """Size, share of customers and revenue, and the median of every feature, per segment."""
    total = segmented["monetary_krw"].sum() or 1.0
    return segmented.group_by("month_start", "segment", "segment_name", "strategy").agg(
        pl.len().alias("customers"),
        (pl.len() / segmented.height).alias("customer_share"),
        (pl.col("monetary_krw").sum() / total).alias("revenue_share"),
        *[pl.col(f).median().alias(f"median_{f}") for f in FEATURES],
    ).sort("segment")
