"""Weekly and monthly feature stores: one row per (level, product_id, customer_id, origin).

Demand is order_qty summed by ORDER date, per product (customer_id 'ALL') and per customer x product.
An origin is a period (ISO week starting Monday, or month); the forecast is made at its close,
``as_of`` = the period's last day, and every feature of that row uses only rows dated <= as_of
(indicator vintages with known_at <= as_of). Leak-freeness comes from three guards:

* the input is cut at the last origin's as_of before anything else;
* panel features for period t are shifts/rolling windows ending at t (``features_panel``);
* features built from other dates (open order book, indicators) filter on as_of explicitly.

All origins are built in one pass; a backtest of a year of origins costs about as much as one.

Which series get a row at an origin: any with an order in the last year or an open order for the
coming periods, and (products) not past end-of-life. Sparse customer x product pairs keep their row;
the model decides how to serve them (see ``model.py``).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from .config import (
    ALL_CUSTOMERS,
    EXTERNAL_SERIES,
    EXTERNAL_TRANSFORMS,
    LEVEL_CUSTOMER_PRODUCT,
    LEVEL_PRODUCT,
    MONTHLY_SPEC,
    WEEKLY_SPEC,
    FeatureSpec,
)
from .features_calendar import period_end, period_index, period_start
from .features_external import external_features
from .features_panel import SERIES_KEYS, concentration, dense_panel, history_features, open_order_book

KEY_COLUMNS = [*SERIES_KEYS, "origin_date", "as_of", "origin_period"]
EOL_NOTICE_DAYS = 182
# Product- and customer-level attributes treated as categories by the model.
CATEGORICAL_FEATURES = ["group_code", "segment_code"]


def build_weekly_features(orders, revenue, products, customers, indicators, fx, origins: list[date], **kw) -> pl.DataFrame:
    return build_features(WEEKLY_SPEC, orders, revenue, products, customers, indicators, fx, origins, **kw)


def build_monthly_features(orders, revenue, products, customers, indicators, fx, months: list[date], **kw) -> pl.DataFrame:
    return build_features(MONTHLY_SPEC, orders, revenue, products, customers, indicators, fx, months, **kw)


def feature_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in KEY_COLUMNS]


def build_features(
    spec: FeatureSpec,
    orders: pl.DataFrame,
    revenue: pl.DataFrame | None,
    products: pl.DataFrame | None,
    customers: pl.DataFrame | None,
    indicators: pl.DataFrame | None,
    fx: pl.DataFrame | None,
    origins: list[date],
    external_series: dict[str, tuple[str, ...]] = EXTERNAL_SERIES,
    external_transforms: dict[str, tuple[str, ...]] = EXTERNAL_TRANSFORMS,
) -> pl.DataFrame:
    cadence = spec.cadence
    origin_periods = sorted({int(p) for p in pl.Series(origins, dtype=pl.Date).to_frame("d").select(period_index(pl.col("d"), cadence))["d"]})
    last = origin_periods[-1]
    cutoff = pl.select(period_end(pl.lit(last), cadence)).item()

    order_rows = _orders(orders, cadence, cutoff)
    if order_rows.is_empty():
        return pl.DataFrame()
    shipments = _shipments(revenue, cadence, cutoff)
    per_period = order_rows.group_by("product_id", "customer_id", "period").agg(
        pl.col("qty").sum(), (pl.col("qty") * pl.col("unit_price")).sum().alias("amount")
    )
    panel = history_features(dense_panel(per_period, shipments, last), spec)
    rows = panel.filter(pl.col("period").is_in(origin_periods))
    book = open_order_book(order_rows, spec, origin_periods)
    rows = rows.join(book, on=[*SERIES_KEYS, "period"], how="left").with_columns(
        pl.col(f"book_{lead}").fill_null(0.0) for lead in spec.book_leads
    )
    rows = concentration(rows, spec)
    active = (pl.col(f"_qs_{spec.long_window}") > 0) | (pl.col(f"book_{max(spec.book_leads)}") > 0)
    rows = rows.filter(active).with_columns(
        origin_date=period_start(pl.col("period"), cadence),
        as_of=period_end(pl.col("period"), cadence),
    )
    rows = _attributes(rows, products, customers, spec)
    ext = external_features(indicators, fx, rows["as_of"].unique().to_list(), external_series, external_transforms)
    rows = rows.join(ext, on="as_of", how="left")
    drop = ["qty", "amount", "ship_qty", "ship_amount", "sid", "_eol", f"_qs_{spec.short_window}", f"_qs_{spec.long_window}"]
    out = rows.rename({"period": "origin_period"}).drop(c for c in drop if c in rows.columns)
    features = sorted(c for c in out.columns if c not in KEY_COLUMNS)
    return out.select(*KEY_COLUMNS, *features).sort("origin_period", "level", "product_id", "customer_id")


def build_targets(orders: pl.DataFrame, cadence: str, up_to: date) -> pl.DataFrame:
    """Actual demand per series and complete period ending <= up_to; absent rows mean zero demand.

    Columns: level, product_id, customer_id, target_period, target_start, actual_qty.
    """
    rows = _orders(orders, cadence, up_to)
    last = pl.select(period_index(pl.lit(up_to), cadence)).item()
    if pl.select(period_end(pl.lit(last), cadence)).item() > up_to:
        rows = rows.filter(pl.col("period") < last)  # the period still running is not a target yet
    pair = rows.group_by("product_id", "customer_id", "period").agg(actual_qty=pl.col("qty").sum())
    product = pair.group_by("product_id", "period").agg(pl.col("actual_qty").sum())
    out = pl.concat(
        [
            pair.with_columns(level=pl.lit(LEVEL_CUSTOMER_PRODUCT)),
            product.with_columns(level=pl.lit(LEVEL_PRODUCT), customer_id=pl.lit(ALL_CUSTOMERS)),
        ],
        how="diagonal",
    )
    return out.select(
        *SERIES_KEYS,
        target_period=pl.col("period"),
        target_start=period_start(pl.col("period"), cadence),
        actual_qty=pl.col("actual_qty"),
    ).sort("target_period", *SERIES_KEYS)


def _as_date(name: str, frame: pl.DataFrame) -> pl.Expr:
    col = pl.col(name)
    return col.str.to_date(strict=False) if frame.schema[name] == pl.String else col.cast(pl.Date)


def _orders(orders: pl.DataFrame, cadence: str, cutoff: date) -> pl.DataFrame:
    rows = orders.select(
        pl.col("product_id").cast(pl.String),
        pl.col("customer_id").cast(pl.String),
        _as_date("order_date", orders).alias("order_date"),
        _as_date("requested_delivery_date", orders).alias("delivery_date")
        if "requested_delivery_date" in orders.columns
        else pl.lit(None, pl.Date).alias("delivery_date"),
        pl.col("order_qty").cast(pl.Float64).alias("qty"),
        (pl.col("unit_price").cast(pl.Float64) if "unit_price" in orders.columns else pl.lit(None, pl.Float64)).alias("unit_price"),
    ).filter(pl.col("order_date") <= cutoff)
    return rows.with_columns(
        period=period_index(pl.col("order_date"), cadence),
        delivery_period=period_index(pl.col("delivery_date"), cadence),
    )


def _shipments(revenue: pl.DataFrame | None, cadence: str, cutoff: date) -> pl.DataFrame:
    schema = {"product_id": pl.String, "customer_id": pl.String, "period": pl.Int32, "ship_qty": pl.Float64, "ship_amount": pl.Float64}
    if revenue is None or revenue.is_empty():
        return pl.DataFrame(schema=schema)
    day = _as_date("revenue_date", revenue)
    return (
        revenue.filter(day <= cutoff)
        .group_by(
            pl.col("product_id").cast(pl.String),
            pl.col("customer_id").cast(pl.String),
            period_index(day, cadence).alias("period"),
        )
        .agg(
            ship_qty=pl.col("shipped_qty").cast(pl.Float64).sum(),
            ship_amount=pl.col("revenue_amount").cast(pl.Float64).sum(),
        )
        .select(list(schema))
    )


def _attributes(rows: pl.DataFrame, products: pl.DataFrame | None, customers: pl.DataFrame | None, spec: FeatureSpec) -> pl.DataFrame:
    """Product group code, age since launch and time to end-of-life, customer segment code.

    Ages are in the cadence's periods. Codes are the rank of the name among sorted names, so they
    are stable as long as the master lists do not gain names in between.
    """
    days_per_period = 7.0 if spec.cadence == "weekly" else 365.25 / 12
    if products is not None and products.height:
        attrs = products.select(
            pl.col("product_id").cast(pl.String),
            pl.col("product_group").cast(pl.String).rank("dense").cast(pl.Int32).alias("group_code")
            if "product_group" in products.columns
            else pl.lit(None, pl.Int32).alias("group_code"),
            *[
                (_as_date(c, products) if c in products.columns else pl.lit(None, pl.Date)).alias(c)
                for c in ("launch_date", "eol_date")
            ],
        )
        rows = rows.join(attrs, on="product_id", how="left")
    else:
        rows = rows.with_columns(group_code=pl.lit(None, pl.Int32), launch_date=pl.lit(None, pl.Date), eol_date=pl.lit(None, pl.Date))
    rows = rows.filter(pl.col("eol_date").is_null() | (pl.col("eol_date") >= pl.col("as_of"))).with_columns(
        age_since_launch=(pl.col("as_of") - pl.col("launch_date")).dt.total_days() / days_per_period,
        # Point in time: the master holds today's end-of-life dates, not when they were set. An EOL is
        # taken as known EOL_NOTICE_DAYS before it (a last-time-buy notice); further out, a past origin
        # could not have known it, so the feature is null - as for a product without an EOL.
        periods_to_eol=pl.when((pl.col("eol_date") - pl.col("as_of")).dt.total_days() <= EOL_NOTICE_DAYS)
        .then((pl.col("eol_date") - pl.col("as_of")).dt.total_days() / days_per_period),
    ).drop("launch_date", "eol_date")
    if customers is not None and customers.height and "segment" in customers.columns:
        seg = customers.select(
            pl.col("customer_id").cast(pl.String),
            pl.col("segment").cast(pl.String).rank("dense").cast(pl.Int32).alias("segment_code"),
        )
        rows = rows.join(seg, on="customer_id", how="left")
    else:
        rows = rows.with_columns(segment_code=pl.lit(None, pl.Int32))
    return rows
