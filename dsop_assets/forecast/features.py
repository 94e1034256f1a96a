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

from collections.abc import Iterator
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
from .features_panel import (
    SERIES_KEYS, canonical_sum, concentration, dense_panel, history_features, open_order_book, order_marks_of,
)

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


# Rows of the dense (series x period) panel built at once. The panel with its ~50 lag and window
# columns in float64 is the feature store's largest frame (large demo: 3,500 products, all pairs
# over 3 years of weeks); building it one batch of whole products at a time bounds the peak
# memory. Every feature of a row depends only on its own product (its series, its customers, its
# product total), so the rows are the same whatever the batch size. 250,000 rather than 500,000:
# the large weekly store then adds ~0.45 GiB to its step's start instead of ~0.7 (peak 1.64 against
# 1.87-2.04 GiB), below the raw load's own peak, for no measurable CPU.
PANEL_ROWS_PER_BATCH = 250_000


# The order the forecast reads the store in: origin, then series. The store itself is written in
# build order (batches of products), because sorting the whole window on write cost about half of
# the write; a reader sorts the rows it reads (``in_row_order``), which is also the only order a
# Postgres table can promise.
ROW_ORDER = ["origin_period", "level", "product_id", "customer_id"]


def in_row_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Feature store rows as read from the warehouse, in ``ROW_ORDER`` (nulls last, as DuckDB sorts)."""
    return _sorted_columnwise([frame], ROW_ORDER) if frame.height else frame


def build_features(spec: FeatureSpec, orders: pl.DataFrame, *args, **kwargs) -> pl.DataFrame:
    """The whole store as one frame in ``ROW_ORDER`` (the asset writes ``feature_batches`` instead)."""
    parts = list(feature_batches(spec, orders, *args, **kwargs))
    return _sorted_columnwise(parts, ROW_ORDER) if parts else pl.DataFrame()


def feature_batches(
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
    panel_rows_per_batch: int = PANEL_ROWS_PER_BATCH,
    order_history: pl.DataFrame | None = None,
) -> Iterator[pl.DataFrame]:
    """The store's rows one batch of whole products at a time, each batch unsorted; none without
    orders. A consumer that writes each batch as it comes never holds the whole store in memory.

    ``orders`` holds every order line, or, with ``order_history`` (``ORDER_HISTORY_SQL``: per pair,
    its first order, first and last demand), only the lines from ``panel_start`` on and those due
    after the first origin: the rows are the same either way (``panel_start``, ``book_start``)."""
    cadence = spec.cadence
    origin_periods = sorted({int(p) for p in pl.Series(origins, dtype=pl.Date).to_frame("d").select(period_index(pl.col("d"), cadence))["d"]})
    last = origin_periods[-1]
    cutoff = pl.select(period_end(pl.lit(last), cadence)).item()

    order_rows = _orders(orders, cadence, cutoff)
    if order_rows.is_empty():
        return
    # The panel starts where the first origin's longest window or lag does (or at the first order):
    # every feature reads at most that far back, so a one-week refresh builds a year of panel, not
    # all history, and its rows are those of a full build bit for bit (``features_windows``). What
    # older orders still tell (which series exist, when each first and last had demand, an open
    # order due after the origin) comes from the order lines or their summary, not from the panel.
    summary = order_rows if order_history is None else _history_rows(order_history, cadence)
    first = max(summary["period"].min(), origin_periods[0] - history_periods(spec) + 1)
    pairs = summary.select("product_id", "customer_id").unique()
    marks = order_marks_of(summary, first)
    del summary
    shipments = _shipments(revenue, cadence, cutoff, since=first)
    # The raw rows are not read again: a caller that handed over its only references (the feature
    # store asset) gets their memory back before the batches are built.
    del orders, revenue
    per_period = order_rows.filter(pl.col("period") >= first).group_by("product_id", "customer_id", "period").agg(
        canonical_sum(pl.col("qty")), canonical_sum(pl.col("qty") * pl.col("unit_price")).alias("amount")
    )
    # Only orders due within the book's leads after some origin can count in it (whole groups of
    # ``open_order_book`` are kept, so its sums are unchanged).
    book_rows = order_rows.filter(
        pl.col("delivery_period").is_between(origin_periods[0] + 1, last + max(spec.book_leads)))
    del order_rows
    # External values depend on the as_of date alone: one row per origin, joined to every batch.
    as_of_dates = pl.select(period_end(pl.Series(origin_periods, dtype=pl.Int32), cadence)).to_series().to_list()
    ext = external_features(indicators, fx, as_of_dates, external_series, external_transforms, spec.forward_drivers)
    for batch in product_batches(pairs, last - first + 1, panel_rows_per_batch):
        def mine(frame: pl.DataFrame) -> pl.DataFrame:
            return frame.filter(pl.col("product_id").is_in(batch.implode()))

        yield _product_rows(spec, mine(per_period), mine(shipments), mine(book_rows), mine(marks), mine(pairs), first,
                            last, origin_periods, products, customers, ext)


def history_periods(spec: FeatureSpec) -> int:
    """Periods a feature row reads, its own included: the longest lag or window."""
    return max(*spec.lags, *spec.mean_windows, *spec.std_windows, *spec.max_windows, *spec.intermittency_windows,
               spec.short_window, spec.long_window)


def panel_start(spec: FeatureSpec, first_origin: date) -> date:
    """First day of the first period a build from ``first_origin`` on reads order lines of."""
    period = pl.select(period_index(pl.lit(first_origin), spec.cadence)).item() - history_periods(spec) + 1
    return pl.select(period_start(pl.lit(period, pl.Int32), spec.cadence)).item()


def book_start(spec: FeatureSpec, first_origin: date) -> date:
    """First day an order line older than ``panel_start`` must be due on to count in some origin's book."""
    period = pl.select(period_index(pl.lit(first_origin), spec.cadence)).item() + 1
    return pl.select(period_start(pl.lit(period, pl.Int32), spec.cadence)).item()


# Per (product, customer) over all order lines before $until: what the lines before $since still tell
# the features (``feature_batches``' ``order_history``).
ORDER_HISTORY_SQL = """
select product_id, customer_id,
       min(order_date) as first_order,
       min(order_date) filter (where order_qty > 0) as first_demand,
       max(order_date) filter (where order_qty > 0 and order_date < $since) as last_demand_before
from daily_order
where order_date < $until
group by product_id, customer_id
"""


def _history_rows(history: pl.DataFrame, cadence: str) -> pl.DataFrame:
    """The summary as the few order lines that decide what it tells: each pair's first order, with
    demand (qty 1) or without (qty 0), and its last demand before the panel (qty 1), so
    ``order_marks_of`` and the pairs read them as they read all the lines."""
    history = history.select(pl.col("product_id").cast(pl.String), pl.col("customer_id").cast(pl.String),
                             *(_as_date(c, history).alias(c) for c in ("first_order", "first_demand", "last_demand_before")))
    lines = [history.select("product_id", "customer_id", day=pl.col("first_order"),
                            qty=pl.when(pl.col("first_demand") == pl.col("first_order")).then(1.0).otherwise(0.0))]
    for column in ("first_demand", "last_demand_before"):
        lines.append(history.filter(pl.col(column).is_not_null()).select(
            "product_id", "customer_id", day=pl.col(column), qty=pl.lit(1.0)))
    return pl.concat(lines).with_columns(period=period_index(pl.col("day"), cadence)).drop("day")


def _sorted_columnwise(parts: list[pl.DataFrame], by: list[str]) -> pl.DataFrame:
    """The parts stacked and sorted by ``by``, holding one extra column at a time instead of a second
    copy of the store (~70 float columns): each column is reordered, then its unsorted self released.
    Empties ``parts`` so that nothing else keeps the unsorted buffers alive."""
    frame = pl.concat(parts, rechunk=False)
    parts.clear()
    order = frame.select(pl.arg_sort_by(by, nulls_last=True)).to_series()
    names, columns = frame.columns, []
    for name in names:
        columns.append(frame.get_column(name).gather(order))
        frame = frame.drop(name)
    return pl.DataFrame(columns)


def product_batches(pairs: pl.DataFrame, periods: int, max_rows: int) -> list[pl.Series]:
    """Product ids in sorted order, cut into batches whose dense panels hold about ``max_rows`` rows:
    a batch starts where the rows before it reach the next multiple of ``max_rows``. ``pairs`` holds
    the (product, customer) pairs of the panel."""
    series = pairs.group_by("product_id").agg(n=pl.col("customer_id").n_unique() + 1).sort("product_id")
    rows_before = (series["n"] * periods).cum_sum() - series["n"] * periods
    batch_of = rows_before // max(max_rows, 1)
    batches = series.with_columns(batch=batch_of).partition_by("batch", maintain_order=True)
    return [part["product_id"] for part in batches]


def _product_rows(
    spec: FeatureSpec,
    per_period: pl.DataFrame,
    shipments: pl.DataFrame,
    order_rows: pl.DataFrame,
    marks: pl.DataFrame,
    pairs: pl.DataFrame,
    first: int,
    last: int,
    origin_periods: list[int],
    products: pl.DataFrame | None,
    customers: pl.DataFrame | None,
    ext: pl.DataFrame,
) -> pl.DataFrame:
    """The feature rows of one batch of whole products (every series of each, both levels)."""
    cadence = spec.cadence
    panel = history_features(dense_panel(per_period, shipments, last, first, pairs), spec, marks)
    rows = panel.filter(pl.col("period").is_in(origin_periods))
    del panel
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
    rows = rows.join(ext, on="as_of", how="left")
    drop = ["qty", "amount", "ship_qty", "ship_amount", "sid", "_eol", f"_qs_{spec.short_window}", f"_qs_{spec.long_window}"]
    out = rows.rename({"period": "origin_period"}).drop(c for c in drop if c in rows.columns)
    features = sorted(c for c in out.columns if c not in KEY_COLUMNS)
    return out.select(*KEY_COLUMNS, *features)


def build_targets(orders: pl.DataFrame, cadence: str, up_to: date) -> pl.DataFrame:
    """Actual demand per series and complete period ending <= up_to; absent rows mean zero demand.

    Columns: level, product_id, customer_id, target_period, target_start, actual_qty.
    """
    rows = _orders(orders, cadence, up_to)
    last = pl.select(period_index(pl.lit(up_to), cadence)).item()
    if pl.select(period_end(pl.lit(last), cadence)).item() > up_to:
        rows = rows.filter(pl.col("period") < last)  # the period still running is not a target yet
    # Value-ordered sums: a plain grouped sum follows how rows were split among threads, and the
    # monthly forecasts differed in the last bit from run to run through these targets.
    pair = rows.group_by("product_id", "customer_id", "period").agg(actual_qty=canonical_sum(pl.col("qty")))
    product = pair.group_by("product_id", "period").agg(canonical_sum(pl.col("actual_qty")))
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


def _shipments(revenue: pl.DataFrame | None, cadence: str, cutoff: date, since: int | None = None) -> pl.DataFrame:
    """Shipped quantity and amount per (product, customer, period) up to ``cutoff``, from period
    ``since`` on (whole periods: each kept period's sums are the same either way)."""
    schema = {"product_id": pl.String, "customer_id": pl.String, "period": pl.Int32, "ship_qty": pl.Float64, "ship_amount": pl.Float64}
    if revenue is None or revenue.is_empty():
        return pl.DataFrame(schema=schema)
    day = _as_date("revenue_date", revenue)
    return (
        revenue.lazy()  # lazy: only the used columns of the (large) revenue table are filtered
        .filter(day <= cutoff)
        .group_by(
            pl.col("product_id").cast(pl.String),
            pl.col("customer_id").cast(pl.String),
            period_index(day, cadence).alias("period"),
        )
        .agg(
            ship_qty=canonical_sum(pl.col("shipped_qty").cast(pl.Float64)),
            ship_amount=canonical_sum(pl.col("revenue_amount").cast(pl.Float64)),
        )
        .select(list(schema))
        .filter(pl.lit(True) if since is None else pl.col("period") >= since)
        .collect()
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
