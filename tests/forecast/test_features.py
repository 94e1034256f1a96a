"""Feature store: shape, and leak-freeness by construction (nothing after as_of changes a row)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from dsop_assets.forecast.features import build_monthly_features, build_targets, build_weekly_features, feature_columns
from dsop_assets.forecast.features_external import external_features

START = date(2023, 1, 2)


def synthetic_erp(seed: int = 1, n_products: int = 6, n_customers: int = 5, days: int = 560) -> dict[str, pl.DataFrame]:
    """Small ERP + external frames: Poisson order lines, shipments on the requested date, four
    indicators (one revised a month after release) and a daily USD rate published the next day."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_products):
        size, first = rng.uniform(2, 40), (0 if p else days - 40)  # the last product is brand new
        for c in range(n_customers):
            rate = rng.uniform(0.03, 0.25) if (p + c) % 3 else 0.012
            for k, day in enumerate(rng.integers(first, days, rng.poisson(rate * days))):
                od = START + timedelta(days=int(day))
                rows.append((f"O{p}-{c}-{k}", od, f"C{c}", f"P{p}", float(rng.poisson(size) + 1), 100.0 + p + k % 3, "KRW",
                             od + timedelta(days=int(rng.integers(3, 70)))))
    schema = ["order_id", "order_date", "customer_id", "product_id", "order_qty", "unit_price", "currency", "requested_delivery_date"]
    orders = pl.DataFrame(rows, schema=schema, orient="row")
    revenue = orders.select(
        invoice_id="order_id", revenue_date="requested_delivery_date", customer_id="customer_id", product_id="product_id",
        shipped_qty="order_qty", revenue_amount=pl.col("order_qty") * pl.col("unit_price"), currency="currency",
    )
    products = pl.DataFrame({
        "product_id": [f"P{p}" for p in range(n_products)],
        "product_group": [f"G{p % 2}" for p in range(n_products)],
        "launch_date": [START - timedelta(days=90 * p) for p in range(n_products)],
        "eol_date": [None] * (n_products - 1) + [START + timedelta(days=days + 300)],
    })
    customers = pl.DataFrame({"customer_id": [f"C{c}" for c in range(n_customers)], "segment": [["memory", "foundry"][c % 2] for c in range(n_customers)]})
    ind = []
    for sid, step, delay in (("SOX", 1, 1), ("DRAM_SPOT", 7, 2), ("CAIXIN_PMI", 30, 3), ("INDPRO", 30, 16)):
        value = 100.0
        for k in range(-420 // step, days // step):
            obs = START + timedelta(days=k * step)
            obs = obs.replace(day=1) if step == 30 else obs
            value *= 1 + rng.normal(0, 0.02)
            ind.append(("x", sid, obs, value, obs + timedelta(days=delay + (30 if step == 30 else 0))))
            if sid == "INDPRO":
                ind.append(("x", sid, obs, value * 1.01, obs + timedelta(days=delay + 60)))
    indicators = pl.DataFrame(ind, schema=["provider", "series_id", "observation_date", "value", "known_at"], orient="row").unique(
        ["series_id", "observation_date", "known_at"], keep="first", maintain_order=True)
    fx = pl.DataFrame({"rate_date": [START + timedelta(days=k) for k in range(-420, days)]}).with_columns(
        currency=pl.lit("USD"), krw_per_unit=1300 + pl.int_range(pl.len()).cast(pl.Float64) * 0.1,
        known_at=pl.col("rate_date") + timedelta(days=1),
    )
    return dict(orders=orders, revenue=revenue, products=products, customers=customers, indicators=indicators, fx=fx)


def weekly_origins(n: int, first: date = date(2023, 7, 3)) -> list[date]:
    return [first + timedelta(days=7 * k) for k in range(n)]


def _perturb_after(data: dict[str, pl.DataFrame], as_of: date) -> dict[str, pl.DataFrame]:
    """Change, add and remove everything dated after as_of (vintages known after it included)."""
    d = dict(data)
    late = pl.col("order_date") > as_of
    new_orders = pl.DataFrame({
        "order_id": ["N1", "N2", "N3"], "order_date": [as_of + timedelta(days=1), as_of + timedelta(days=3), as_of + timedelta(days=30)],
        "customer_id": ["C0", "C9", "C1"], "product_id": ["P0", "P1", "P99"], "order_qty": [1e6, 5.0, 7.0],
        "unit_price": [1.0, 2.0, 3.0], "currency": ["KRW"] * 3,
        "requested_delivery_date": [as_of + timedelta(days=2), as_of + timedelta(days=10), as_of + timedelta(days=40)],
    })
    orders = d["orders"].filter(~late | (pl.int_range(pl.len()) % 2 == 0))
    d["orders"] = pl.concat([orders.with_columns(order_qty=pl.when(late).then(pl.col("order_qty") * 3).otherwise("order_qty")), new_orders])
    d["revenue"] = d["revenue"].with_columns(
        shipped_qty=pl.when(pl.col("revenue_date") > as_of).then(0.0).otherwise("shipped_qty"))
    known_late = pl.col("known_at") > as_of
    revised = d["indicators"].filter(pl.col("observation_date") <= as_of).with_columns(
        value=pl.col("value") * 5, known_at=pl.lit(as_of + timedelta(days=1)))
    d["indicators"] = pl.concat([d["indicators"].with_columns(value=pl.when(known_late).then(-1.0).otherwise("value")), revised])
    d["fx"] = d["fx"].filter(~(pl.col("known_at") > as_of) | (pl.col("rate_date").dt.day() > 15))
    return d


@pytest.fixture(scope="module")
def data() -> dict[str, pl.DataFrame]:
    return synthetic_erp()


@pytest.mark.parametrize("cadence", ["weekly", "monthly"])
def test_rows_identical_when_the_future_changes(data, cadence):
    if cadence == "weekly":
        origins, build = weekly_origins(30), build_weekly_features
        target = origins[12]
        as_of = target + timedelta(days=6)
    else:
        origins, build = [date(2023, m, 1) for m in range(6, 13)], build_monthly_features
        target, as_of = date(2023, 9, 1), date(2023, 9, 30)
    key = ["level", "product_id", "customer_id"]
    before = build(**data, **{"origins" if cadence == "weekly" else "months": origins}).filter(pl.col("origin_date") == target).sort(key)
    changed = _perturb_after(data, as_of)
    after = build(**changed, **{"origins" if cadence == "weekly" else "months": origins}).filter(pl.col("origin_date") == target).sort(key)
    assert before.height > 10
    assert before.equals(after)
    # and built alone, the origin's rows equal those of the multi-origin pass
    alone = build(**changed, **{"origins" if cadence == "weekly" else "months": [target]}).sort(key)
    assert alone.equals(before)


def test_feature_store_shape_and_semantics(data):
    feats = build_weekly_features(**data, origins=weekly_origins(4))
    assert feats.select("level", "product_id", "customer_id", "origin_date").is_duplicated().sum() == 0
    assert set(feats["level"]) == {"product", "customer_product"}
    assert (feats["as_of"] - feats["origin_date"]).dt.total_days().unique().to_list() == [6]
    assert 40 <= len(feature_columns(feats)) - 1 <= 75  # minus origin_period
    # product rows sum their customers for additive features
    prod = feats.filter(pl.col("level") == "product").select("product_id", "origin_date", "lag_1", "book_4")
    pairs = feats.filter(pl.col("level") == "customer_product").group_by("product_id", "origin_date").agg(pl.col("lag_1", "book_4").sum())
    joined = prod.join(pairs, on=["product_id", "origin_date"], suffix="_pairs")
    # pairs inactive for a year drop out, so sums can only be smaller on the pair side
    assert (joined["lag_1"] >= joined["lag_1_pairs"] - 1e-9).all() and (joined["book_4"] >= joined["book_4_pairs"] - 1e-9).all()
    assert feats["ext_sox_g1m"].null_count() == 0 and feats["ext_usdkrw"].null_count() == 0


def test_open_order_book_counts_only_orders_known_at_as_of():
    orders = pl.DataFrame({
        "order_id": ["a", "b", "c", "d"], "customer_id": ["C"] * 4, "product_id": ["P"] * 4, "order_qty": [1.0, 10.0, 100.0, 1000.0],
        "unit_price": [1.0] * 4, "currency": ["KRW"] * 4,
        "order_date": [date(2024, 1, 1), date(2024, 1, 7), date(2024, 1, 8), date(2024, 1, 2)],
        # a: next week; b: in 3 weeks; c: ordered after as_of; d: delivery within the origin week (not open)
        "requested_delivery_date": [date(2024, 1, 10), date(2024, 1, 24), date(2024, 1, 10), date(2024, 1, 5)],
    })
    row = build_weekly_features(orders, None, None, None, None, None, [date(2024, 1, 1)]).filter(pl.col("level") == "product")
    assert row.select("book_1", "book_2", "book_4", "book_8").row(0) == (1.0, 1.0, 11.0, 11.0)


def test_open_order_book_sums_each_lead_in_ascending_order_whatever_the_row_order():
    """The book's sums add a group's quantities in ascending order (the stored bits depend on it), also
    since the rows are sorted once for all groups instead of per group and lead."""
    import itertools

    from dsop_assets.forecast.config import WEEKLY_SPEC
    from dsop_assets.forecast.features_panel import open_order_book

    # 1e16 + 1 loses the 1, so the order of addition shows; one origin (10), quantity i at lead i + 1.
    qty = [1e16, 3.0, 1.0, 2.0, 0.5]

    def added(values, reverse=False):
        total = 0.0
        for v in sorted(values, reverse=reverse):
            total += v
        return total

    assert added(qty) != added(qty, reverse=True)
    results = set()
    for perm in itertools.permutations(range(5)):
        orders = pl.DataFrame({"product_id": ["P"] * 5, "customer_id": ["C"] * 5, "period": [10] * 5,
                               "delivery_period": [11 + i for i in perm], "qty": [qty[i] for i in perm]},
                              schema_overrides={"period": pl.Int32, "delivery_period": pl.Int32})
        book = open_order_book(orders, WEEKLY_SPEC, [10]).filter(pl.col("level") == "customer_product")
        results.add(book.select("book_1", "book_2", "book_4", "book_8").row(0))
    assert results == {(qty[0], added(qty[:2]), added(qty[:4]), added(qty))}


def test_indicator_vintage_known_at_as_of():
    ind = pl.DataFrame({
        "series_id": ["INDPRO"] * 4, "observation_date": [date(2023, 12, 1), date(2024, 1, 1), date(2024, 1, 1), date(2024, 2, 1)],
        "value": [100.0, 110.0, 120.0, 130.0],
        "known_at": [date(2024, 1, 15), date(2024, 2, 15), date(2024, 3, 15), date(2024, 3, 15)],
    })
    out = external_features(ind, None, [date(2024, 2, 20), date(2024, 3, 20)], {"indpro": ("INDPRO",)}, {"indpro": ("level", "1m")})
    # Feb 20: January's first release; Mar 20: February, compared with January's revision
    assert out.rows() == [(date(2024, 2, 20), 110.0, pytest.approx(0.1)), (date(2024, 3, 20), 130.0, pytest.approx(130.0 / 120.0 - 1))]


def test_targets_are_complete_periods_only(data):
    targets = build_targets(data["orders"], "weekly", date(2023, 6, 7))  # a Wednesday
    assert targets["target_start"].max() == date(2023, 5, 29)
    prod = targets.filter(pl.col("level") == "product")["actual_qty"].sum()
    assert prod == pytest.approx(targets.filter(pl.col("level") == "customer_product")["actual_qty"].sum())


def test_end_of_life_is_point_in_time(data):
    """An EOL further out than the notice window was not known at the origin: no periods_to_eol."""
    from dsop_assets.forecast.features import EOL_NOTICE_DAYS

    origins = weekly_origins(60)
    eol = origins[40] + timedelta(days=100)
    products = data["products"].with_columns(eol_date=pl.when(pl.col("eol_date").is_not_null()).then(pl.lit(eol)))
    feats = build_weekly_features(**{**data, "products": products}, origins=origins).filter(pl.col("level") == "product")
    eol_product = products.filter(pl.col("eol_date").is_not_null()).row(0, named=True)
    rows = feats.filter(pl.col("product_id") == eol_product["product_id"]).sort("origin_date")
    days_left = (eol_product["eol_date"] - rows["as_of"]).dt.total_days()
    known = rows["periods_to_eol"].is_not_null()
    assert (known == (days_left <= EOL_NOTICE_DAYS)).all()
    assert known.any() and (~known).any()


@pytest.mark.parametrize("cadence", ["weekly", "monthly"])
def test_batches_of_products_build_the_same_rows(data, cadence):
    """The store is built a batch of products at a time to bound memory: any batch size gives the
    same frame, bit for bit (a brand-new product in its own batch still starts at the first period)."""
    from dsop_assets.forecast.config import MONTHLY_SPEC, WEEKLY_SPEC
    from dsop_assets.forecast.features import build_features, product_batches

    # up to the data's end, so the brand-new product P0 has rows too
    spec, origins = ((WEEKLY_SPEC, weekly_origins(56)) if cadence == "weekly"
                     else (MONTHLY_SPEC, [date(2023, m, 1) for m in range(3, 13)] + [date(2024, 7, 1)]))
    whole = build_features(spec, **data, origins=origins, panel_rows_per_batch=10**12)
    per_pair = pl.DataFrame({"product_id": ["P0", "P0", "P1", "P2"], "customer_id": ["C0", "C1", "C0", "C0"]})
    assert [b.to_list() for b in product_batches(per_pair, 10, 30)] == [["P0"], ["P1", "P2"]]
    for rows in (1, 300, 2_000):
        batched = build_features(spec, **data, origins=origins, panel_rows_per_batch=rows)
        assert batched.equals(whole)
    assert whole.height > 100 and whole["product_id"].n_unique() == 6


def test_the_store_written_batch_by_batch_is_the_frame_built_whole(data, tmp_path):
    """The asset writes each batch as it is built, in build order, under a small memory cap; read back
    in row order the stored window is the whole frame's, row for row and bit for bit, whatever order
    the batches came in, and a second write of the window replaces it."""
    from dsop_assets.forecast.config import WEEKLY_SPEC
    from dsop_assets.forecast.features import build_features, feature_batches, in_row_order
    from dsop_resources import DuckDBWarehouse, Window

    origins = weekly_origins(40)
    whole = build_features(WEEKLY_SPEC, **data, origins=origins)
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"), memory_limit="64MB")
    window = Window("origin_date", origins[0], origins[-1] + timedelta(days=7))
    for shuffle in (False, True):
        batches = list(feature_batches(WEEKLY_SPEC, **data, origins=origins, panel_rows_per_batch=300))
        if shuffle:  # batches reversed and each one's rows shuffled: the reader alone restores the order
            batches = [b.sample(fraction=1.0, shuffle=True, seed=i) for i, b in enumerate(reversed(batches))]
        assert warehouse.write_batches("store", iter(batches), window) == whole.height
    stored = warehouse.query("select * from store")
    assert not stored.equals(whole)  # stored in build order, not row order
    assert in_row_order(stored).equals(whole)
    assert whole.height > 500 and whole["product_id"].n_unique() == 5  # several batches of whole products


def test_a_store_build_that_fails_leaves_the_window_as_it_was(data, tmp_path):
    """A batch that raises half-way through the build (or one the table refuses) rolls the whole
    window back: the earlier store stays, row for row."""
    from dsop_assets.forecast.config import WEEKLY_SPEC
    from dsop_assets.forecast.features import feature_batches
    from dsop_resources import DuckDBWarehouse, Window

    origins = weekly_origins(40)
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    window = Window("origin_date", origins[0], origins[-1] + timedelta(days=7))
    batches = list(feature_batches(WEEKLY_SPEC, **data, origins=origins, panel_rows_per_batch=300))
    warehouse.write_batches("store", iter(batches), window)
    before = warehouse.query("select * from store")

    def failing():
        yield batches[0]
        raise RuntimeError("build failed")

    with pytest.raises(RuntimeError, match="build failed"):
        warehouse.write_batches("store", failing(), window)
    refused = [batches[0], batches[1].with_columns(pl.lit("x").alias(batches[1].columns[-1]))]
    with pytest.raises(Exception):
        warehouse.write_batches("store", iter(refused), window)
    assert warehouse.query("select * from store").equals(before)


def test_a_large_write_keeps_the_frames_row_order(tmp_path):
    """DuckDB gets big frames as row-group-sized Arrow batches so that the insert runs on every core;
    the stored rows still come back in the frame's order, for ``write`` and ``write_batches`` alike."""
    from dsop_resources import DuckDBWarehouse, Window
    from dsop_resources.duckdb_warehouse import ROW_GROUP_ROWS, in_row_groups

    n = 3 * ROW_GROUP_ROWS + 17
    rng = np.random.default_rng(3)
    frame = pl.DataFrame({"origin_date": [date(2024, 1, 1)] * n, "key": rng.permutation(n),
                          "value": rng.normal(size=n)})
    assert len(in_row_groups(frame).to_batches()) == 4
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"), memory_limit="64MB")
    warehouse.write("whole", frame)
    window = Window("origin_date", date(2024, 1, 1), date(2024, 1, 2))
    warehouse.write_batches("batched", iter([frame.head(n // 2), frame.tail(n - n // 2)]), window)
    assert warehouse.query("select * from whole").equals(frame)
    assert warehouse.query("select * from batched").equals(frame)


def test_targets_do_not_depend_on_the_order_of_the_order_lines():
    """A period's lines (and a product's customers) are summed in value order: a plain grouped sum of
    fractional quantities followed how Polars split the rows among threads, and its last bit changed
    from run to run (the monthly forecasts with it)."""
    rng = np.random.default_rng(5)
    n = 400_000
    lines = pl.DataFrame({
        "order_date": pl.date_range(date(2024, 1, 1), date(2024, 12, 31), eager=True).sample(n, with_replacement=True, seed=1),
        "customer_id": rng.choice([f"C{i}" for i in range(8)], n), "product_id": rng.choice([f"P{i}" for i in range(40)], n),
        "order_qty": rng.gamma(2.0, 3.0, n).round(3),
    })
    keys = ["level", "product_id", "customer_id", "target_period"]
    first = build_targets(lines, "monthly", up_to=date(2024, 12, 31)).sort(keys)
    for seed in range(3):
        again = build_targets(lines.sample(fraction=1.0, shuffle=True, seed=seed), "monthly", up_to=date(2024, 12, 31))
        assert again.sort(keys).equals(first)
