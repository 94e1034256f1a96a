"""A coherent forecast hierarchy: product-group and customer totals over products and pairs.

The forecast serves two levels independently (product, customer x product), so their sums disagree.
Reconciliation is proportional (top-down): the product forecast is the better-informed one (dense
series, statistical members), so each product's pair forecasts are scaled by one factor so that the
pairs' expected demand (``mean``) sums to the product's; P10/P50/P90 scale with it, which keeps
them ordered and non-negative. Products without pair rows are left alone.

Totals are sums of ``mean`` (coherent by construction): ``product_group`` over its products,
``customer`` over that customer's pairs. Their bands assume the parts' errors independent: the
half-widths below and above the point combine in quadrature (sqrt of the sum of squares), so a
total's band is narrower relative to its level than its parts', as pooled demand is.
"""

from __future__ import annotations

import polars as pl

from .config import ALL_CUSTOMERS, LEVEL_CUSTOMER_PRODUCT, LEVEL_PRODUCT

LEVEL_GROUP = "product_group"
LEVEL_CUSTOMER = "customer"
MODEL_HIERARCHY = "hierarchy_sum"
_ORIGIN_KEYS = ["cadence", "origin_date", "target_start", "horizon"]


def reconcile_pairs(result: pl.DataFrame) -> pl.DataFrame:
    """Scale each product's pair rows so their ``mean`` sums to the product's ``mean``."""
    products = result.filter(pl.col("level") == LEVEL_PRODUCT).select(
        "product_id", *_ORIGIN_KEYS, pl.col("mean").alias("_product_mean"))
    pairs = result.filter(pl.col("level") == LEVEL_CUSTOMER_PRODUCT)
    totals = pairs.group_by("product_id", *_ORIGIN_KEYS).agg(pl.col("mean").sum().alias("_pairs_mean"))
    factor = (pl.when(pl.col("_pairs_mean") > 0).then(pl.col("_product_mean") / pl.col("_pairs_mean"))
              .otherwise(1.0).fill_null(1.0))
    scaled = (
        pairs.join(totals, on=["product_id", *_ORIGIN_KEYS], how="left")
        .join(products, on=["product_id", *_ORIGIN_KEYS], how="left")
        .with_columns(pl.col(c for c in ("p10", "p50", "p90", "mean", "p10_unclipped") if c in pairs.columns) * factor)
        .drop("_pairs_mean", "_product_mean")
    )
    return pl.concat([result.filter(pl.col("level") != LEVEL_CUSTOMER_PRODUCT), scaled.select(result.columns)])


def _totals(parts: pl.DataFrame, by: str, level: str) -> pl.DataFrame:
    lower, upper = pl.col("mean") - pl.col("p10"), pl.col("p90") - pl.col("mean")
    return (
        parts.group_by(by, *_ORIGIN_KEYS, "as_of", "created_at")
        .agg(pl.col("mean").sum(), (lower.clip(lower_bound=0) ** 2).sum().sqrt().alias("_lo"),
             (upper.clip(lower_bound=0) ** 2).sum().sqrt().alias("_hi"))
        .with_columns(level=pl.lit(level), p50=pl.col("mean"),
                      p10=(pl.col("mean") - pl.col("_lo")).clip(lower_bound=0), p90=pl.col("mean") + pl.col("_hi"))
    )


def aggregate_levels(result: pl.DataFrame, product_groups: pl.DataFrame | None) -> pl.DataFrame:
    """Product-group totals (over product rows) and customer totals (over pair rows), in the
    result's columns; model_id 'hierarchy_sum', method 'sum'."""
    parts = []
    if product_groups is not None and product_groups.height:
        products = result.filter(pl.col("level") == LEVEL_PRODUCT).join(
            product_groups.select("product_id", pl.col("product_group").cast(pl.String)), on="product_id", how="left"
        ).with_columns(pl.col("product_group").fill_null("unknown"))
        parts.append(_totals(products, "product_group", LEVEL_GROUP).with_columns(
            product_id=pl.col("product_group"), customer_id=pl.lit(ALL_CUSTOMERS)))
    pairs = result.filter(pl.col("level") == LEVEL_CUSTOMER_PRODUCT)
    if pairs.height:
        parts.append(_totals(pairs, "customer_id", LEVEL_CUSTOMER).with_columns(product_id=pl.lit(ALL_CUSTOMERS)))
    if not parts:
        return result.clear()
    version = result["model_version"][0] if result.height else ""
    filled = {"model_id": pl.lit(MODEL_HIERARCHY), "model_version": pl.lit(version), "method": pl.lit("sum"),
              "band_scale": pl.lit(1.0), "band_scale_low": pl.lit(1.0), "bias_scale": pl.lit(1.0),
              "market_scale": pl.lit(1.0)}
    out = pl.concat([p.with_columns(**{k: v for k, v in filled.items() if k in result.columns}) for p in parts],
                    how="diagonal")
    # Columns only the model rows carry (member P50s, member_set) are null on totals.
    out = out.with_columns(pl.lit(None, dtype).alias(c) for c, dtype in result.schema.items() if c not in out.columns)
    return out.select(result.columns).cast(result.schema)


def coherent(result: pl.DataFrame, product_groups: pl.DataFrame | None) -> pl.DataFrame:
    """Pairs reconciled to products, plus group and customer totals."""
    reconciled = reconcile_pairs(result)
    return pl.concat([reconciled, aggregate_levels(reconciled, product_groups)])


__all__ = ["LEVEL_CUSTOMER", "LEVEL_GROUP", "MODEL_HIERARCHY", "aggregate_levels", "coherent", "reconcile_pairs"]
