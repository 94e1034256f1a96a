"""Dense per-period demand panel and the features that are pure functions of its past.

The panel has one row per (series, period) from the first period in the data to the last origin,
zeros where nothing was ordered, so a lag is a shift and a window a rolling sum over a sorted group.
Every value in the row of period t uses periods <= t only; with as_of the end of period t, these
features cannot see the future by construction.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .config import ALL_CUSTOMERS, LEVEL_CUSTOMER_PRODUCT, LEVEL_PRODUCT, FeatureSpec
from .features_windows import window_counts, window_std, window_sum

SERIES_KEYS = ["level", "product_id", "customer_id"]


def canonical_sum(values: pl.Expr) -> pl.Expr:
    """A group's float sum taken in ascending order of its values.

    Polars' grouped sums add a group's values in an order set by row order and by how the frame is
    split among threads, so fractional quantities and amounts could differ in the last bit from run
    to run and between a whole build and one batched by product. Sorting first makes the sum a
    function of the group's values alone.
    """
    return values.sort().sum()


def dense_panel(
    orders: pl.DataFrame, shipments: pl.DataFrame, last_period: int, first_period: int | None = None,
    pairs: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Both levels stacked; ``orders``/``shipments`` are per (product, customer, period) sums.

    The panel starts at ``first_period`` (default: the first period in ``orders``); a batch of
    products passes the first period of all products so its rows match an unbatched build. Its
    series are ``pairs`` (product, customer) and their products (default: the pairs in ``orders``):
    a panel cut to the last year keeps the series that ordered only before it."""
    first = orders["period"].min() if first_period is None else first_period
    periods = pl.DataFrame({"period": pl.int_range(first, last_period + 1, eager=True).cast(pl.Int32)})
    # Whole periods are dropped, so every remaining period's sums take the same values as before.
    values = orders.join(shipments, on=["product_id", "customer_id", "period"], how="full", coalesce=True).filter(
        pl.col("period") >= first)
    pairs = orders.select("product_id", "customer_id").unique() if pairs is None else pairs
    levels = []
    for level, keys in ((LEVEL_CUSTOMER_PRODUCT, ["product_id", "customer_id"]), (LEVEL_PRODUCT, ["product_id"])):
        summed = values.group_by(*keys, "period").agg(canonical_sum(pl.col(c)) for c in ("qty", "amount", "ship_qty", "ship_amount"))
        grid = pairs.select(keys).unique().join(periods, how="cross")
        frame = grid.join(summed, on=[*keys, "period"], how="left")
        if level == LEVEL_PRODUCT:
            frame = frame.with_columns(customer_id=pl.lit(ALL_CUSTOMERS))
        levels.append(frame.with_columns(level=pl.lit(level)))
    panel = pl.concat(levels, how="diagonal").with_columns(
        pl.col("qty", "amount", "ship_qty", "ship_amount").fill_null(0.0).cast(pl.Float64)
    )
    return (
        panel.sort(*SERIES_KEYS, "period")
        .with_columns(sid=pl.struct(SERIES_KEYS).rle_id().cast(pl.Int32))
    )


def history_features(panel: pl.DataFrame, spec: FeatureSpec, order_marks: pl.DataFrame | None = None) -> pl.DataFrame:
    """Lags, windows, intermittency, shipments and price; rows stay one per (series, period).

    ``panel`` is ``dense_panel``'s; ``order_marks`` (``order_marks_of``) carries each series' first
    period with demand and its last before the panel starts, so the rows of a panel cut to the last
    year equal those of one over all history (without it, the panel is taken to be all history).
    """
    periods = panel["period"].max() - panel["period"].min() + 1 if panel.height else 1
    if panel.height % periods:
        raise ValueError("history_features needs a dense panel: every series on every period")
    q = pl.col("qty")
    nz = (q > 0).cast(pl.Float64)
    s, y = spec.short_window, spec.long_window
    columns = {name: panel[name].to_numpy() for name in ("qty", "amount", "ship_qty")}
    columns["qty2"] = columns["qty"] * columns["qty"]
    columns["nz"] = (columns["qty"] > 0).astype(np.float64)

    # Several features share a window (the year's quantity sum, the 13-period mean): each is computed once.
    computed: dict[tuple[str, str, int], np.ndarray] = {}

    def values_of(kind: str, name: str, width: int) -> np.ndarray:
        if (kind, name, width) not in computed:
            if kind == "sum":
                result = window_sum(columns[name], periods, width)
            elif kind == "mean":
                result = (values_of("sum", name, width).reshape(-1, periods) / window_counts(periods, width)).ravel()
            else:
                result = window_std(columns[name], periods, width, mean=values_of("mean", name, width))
            computed[kind, name, width] = result
        return computed[kind, name, width]

    def window(kind: str, name: str, width: int, alias: str) -> pl.Series:
        return pl.Series(alias, values_of(kind, name, width), nan_to_null=True)

    windows = [window("mean", "qty", w, f"mean_{w}") for w in spec.mean_windows]
    windows += [window("std", "qty", w, f"std_{w}") for w in spec.std_windows]
    for w in spec.intermittency_windows:
        windows += [
            window("mean", "nz", w, f"_nzshare_{w}"),
            window("sum", "qty", w, f"_s1_{w}"),
            window("sum", "qty2", w, f"_s2_{w}"),
            window("sum", "nz", w, f"_n_{w}"),
        ]
    windows += [
        window("sum", "nz", y, f"nonzero_{y}"),
        window("mean", "ship_qty", s, f"ship_mean_{s}"),
        window("sum", "qty", s, f"_qs_{s}"),
        window("sum", "qty", y, f"_qs_{y}"),
        window("sum", "ship_qty", s, "_ships"),
        window("sum", "amount", s, "_as"),
        window("sum", "amount", y, "_ay"),
    ]
    del columns, computed
    # Shifts and maxima read the window's values as they are: the same bits wherever the panel starts.
    exprs: list[pl.Expr] = [q.shift(k - 1).alias(f"lag_{k}") for k in spec.lags]
    exprs += [q.rolling_max(w, min_samples=1).alias(f"max_{w}") for w in spec.max_windows]
    exprs += [pl.when(q > 0).then(pl.col("period")).forward_fill().alias("_last_order")]
    out = panel.with_columns(windows).with_columns(pl.col("ship_qty").alias("ship_lag_1"), *(e.over("sid") for e in exprs))
    marks = order_marks if order_marks is not None else order_marks_of(panel, panel["period"].min())
    out = out.join(marks, on=SERIES_KEYS, how="left", maintain_order="left")
    derived = [
        # Periods since the first order (the period itself counts) and since the last one.
        pl.when(pl.col("period") >= pl.col("_first_order"))
        .then(pl.col("period") - pl.col("_first_order") + 1).otherwise(0).cast(pl.Float64).alias("periods_since_first"),
        (pl.col("period") - pl.coalesce("_last_order", "_last_order_before")).cast(pl.Float64).alias("periods_since_last"),
        _ratio(pl.col(f"_qs_{s}"), pl.col("_ships")).alias(f"book_to_bill_{s}"),
        _ratio(pl.col("_as"), pl.col(f"_qs_{s}")).alias(f"price_{s}"),
        (_ratio(pl.col("_as"), pl.col(f"_qs_{s}")) / _ratio(pl.col("_ay"), pl.col(f"_qs_{y}")) - 1).alias("price_change"),
    ]
    for w in spec.intermittency_windows:
        mean_nz = _ratio(pl.col(f"_s1_{w}"), pl.col(f"_n_{w}"))
        var_nz = (_ratio(pl.col(f"_s2_{w}"), pl.col(f"_n_{w}")) - mean_nz**2).clip(lower_bound=0)
        derived += [
            (1 - pl.col(f"_nzshare_{w}")).alias(f"zero_share_{w}"),
            _ratio(pl.lit(1.0), pl.col(f"_nzshare_{w}")).alias(f"adi_{w}"),
            _ratio(var_nz, mean_nz**2).alias(f"cv2_{w}"),
        ]
    out = out.with_columns(derived)
    keep_internal = [f"_qs_{s}", f"_qs_{y}"]
    return out.drop(c for c in out.columns if c.startswith("_") and c not in keep_internal)


def order_marks_of(rows: pl.DataFrame, panel_start: int) -> pl.DataFrame:
    """Per series (both levels): ``_first_order``, the first period with demand, and
    ``_last_order_before``, the last period with demand before ``panel_start`` (null if none).

    ``rows`` carry product_id, customer_id, period and qty over all history up to the last origin:
    order lines, or a dense panel. Quantities are never negative (the contract rejects them), so a
    period has demand exactly when one of its lines has, and a product's when one of its customers' has.
    """
    demand = rows.filter(pl.col("qty") > 0)
    if "level" in demand.columns:
        demand = demand.filter(pl.col("level") == LEVEL_CUSTOMER_PRODUCT)
    marks = []
    for level, keys in ((LEVEL_CUSTOMER_PRODUCT, ["product_id", "customer_id"]), (LEVEL_PRODUCT, ["product_id"])):
        frame = demand.group_by(keys).agg(
            _first_order=pl.col("period").min(),
            _last_order_before=pl.col("period").filter(pl.col("period") < panel_start).max(),
        )
        if level == LEVEL_PRODUCT:
            frame = frame.with_columns(customer_id=pl.lit(ALL_CUSTOMERS))
        marks.append(frame.with_columns(level=pl.lit(level)))
    return pl.concat(marks, how="diagonal").select(
        *SERIES_KEYS, pl.col("_first_order").cast(pl.Int32), pl.col("_last_order_before").cast(pl.Int32))


def open_order_book(orders: pl.DataFrame, spec: FeatureSpec, origin_periods: list[int]) -> pl.DataFrame:
    """Quantity ordered by the origin's close whose requested delivery falls 1..L periods after it.

    ``orders`` carries ``period`` (order) and ``delivery_period``. An order counts for origin t only
    when period <= t, i.e. order_date <= as_of: the filter below is the leak guard, explicit
    because delivery dates lie in the future by nature.
    """
    max_lead = max(spec.book_leads)
    book = (
        orders.filter(pl.col("delivery_period") > pl.col("period"))
        .group_by("product_id", "customer_id", "period", "delivery_period")
        .agg(canonical_sum(pl.col("qty")))
        # Each lead's sum below adds its group's quantities in ascending order. Sorted once here
        # (explode and filter keep the order), every group's rows already come in that order, so
        # each sum takes the same values in the same order (the same bits) without a sort per group
        # and lead, which was most of the book's time.
        .sort("qty", maintain_order=True)
        .with_columns(lead=pl.int_ranges(1, max_lead + 1, dtype=pl.Int32))
        .explode("lead")
        .with_columns(origin=(pl.col("delivery_period") - pl.col("lead")).cast(pl.Int32))
        .filter(pl.col("origin") >= pl.col("period"), pl.col("origin").is_in(origin_periods))
    )
    sums = [pl.col("qty").filter(pl.col("lead") <= lead).sum().alias(f"book_{lead}") for lead in spec.book_leads]
    pair = book.group_by("product_id", "customer_id", "origin").agg(sums)
    product = pair.group_by("product_id", "origin").agg(canonical_sum(pl.col(f"book_{lead}")) for lead in spec.book_leads)
    return pl.concat(
        [
            pair.with_columns(level=pl.lit(LEVEL_CUSTOMER_PRODUCT)),
            product.with_columns(level=pl.lit(LEVEL_PRODUCT), customer_id=pl.lit(ALL_CUSTOMERS)),
        ],
        how="diagonal",
    ).rename({"origin": "period"})


def concentration(rows: pl.DataFrame, spec: FeatureSpec) -> pl.DataFrame:
    """Customer concentration of each product and each customer's share, at the origin rows.

    Product rows get top-customer share, HHI and active customers; pair rows get the customer's share
    of the product plus product-level context, so one pooled pair model can tell a customer's
    own trend from its product's.
    """
    s, y = spec.short_window, spec.long_window
    pairs = rows.filter(pl.col("level") == LEVEL_CUSTOMER_PRODUCT)
    per_product = pairs.group_by("product_id", "period").agg(
        _tot_s=canonical_sum(pl.col(f"_qs_{s}")),
        _top=pl.col(f"_qs_{s}").max(),
        _sq=canonical_sum(pl.col(f"_qs_{s}") ** 2),
        **{f"n_active_cust_{s}": (pl.col(f"_qs_{s}") > 0).sum().cast(pl.Float64)},
    ).with_columns(
        _ratio(pl.col("_top"), pl.col("_tot_s")).alias(f"top_cust_share_{s}"),
        _ratio(pl.col("_sq"), pl.col("_tot_s") ** 2).alias(f"hhi_{s}"),
    ).drop("_top", "_sq", "_tot_s")
    product_rows = rows.filter(pl.col("level") == LEVEL_PRODUCT)
    context = product_rows.select(
        "product_id",
        "period",
        pl.col("lag_1").alias("ctx_prod_lag_1"),
        pl.col(f"mean_{s}").alias(f"ctx_prod_mean_{s}"),
        pl.col(f"_qs_{s}").alias("_prod_s"),
        pl.col(f"_qs_{y}").alias("_prod_y"),
    )
    out = rows.join(per_product, on=["product_id", "period"], how="left").join(
        context, on=["product_id", "period"], how="left"
    )
    return out.with_columns(
        _ratio(pl.col(f"_qs_{s}"), pl.col("_prod_s")).alias(f"cust_share_{s}"),
        _ratio(pl.col(f"_qs_{y}"), pl.col("_prod_y")).alias(f"cust_share_{y}"),
    ).drop("_prod_s", "_prod_y")


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num / den).otherwise(None)
