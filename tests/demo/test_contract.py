"""Every generated row satisfies the ERP contract: types, required values, keys, references, rules."""

from __future__ import annotations

import polars as pl
import pytest

from dsop_resources.erp.contract import ALL_TABLES, CONTRACTS

from .helpers import read_table, typed


@pytest.mark.parametrize("table", [t.name for t in ALL_TABLES])
def test_table_follows_contract(tiny, table):
    out, _ = tiny
    raw = read_table(out, table)
    contract = CONTRACTS[table]
    assert raw.columns == contract.column_names
    assert raw.height > 0
    for col in contract.required_columns:
        assert raw[col].null_count() == 0 and (raw[col].str.strip_chars() != "").all(), col
    df = typed(out, table)  # raises if any date or number does not parse
    for col in contract.columns:
        if col.dtype == "float" and col.nonnegative:
            assert (df[col.name].drop_nulls() >= 0).all(), col.name
        if col.allowed:
            assert set(df[col.name].drop_nulls()) <= set(col.allowed), col.name
        if col.references:
            ref_table, ref_col = col.references.split(".")
            known = set(read_table(out, ref_table)[ref_col])
            assert set(df[col.name].drop_nulls()) <= known, col.name
    assert df.select(contract.key).is_duplicated().sum() == 0


def test_history_windows_and_business_rules(tiny):
    out, manifest = tiny
    orders = typed(out, "daily_order")
    assert (orders["requested_delivery_date"] > orders["order_date"]).all()
    lead = (orders["requested_delivery_date"] - orders["order_date"]).dt.total_days()
    assert lead.min() >= 5 and lead.max() <= 80
    assert str(orders["order_date"].max()) <= manifest["end_date"]
    assert (orders["order_date"].dt.weekday() <= 5).all()
    revenue = typed(out, "daily_revenue")
    assert str(revenue["revenue_date"].max()) <= manifest["end_date"]
    joined = revenue.join(orders.select("order_id", "unit_price"), on="order_id", how="inner")
    # a planted drop removes a pair's order lines for weeks and keeps their shipments (dsop_jobs/demo_data/anomalies.py)
    planted = pl.read_csv(out / "ground_truth" / "planted_anomalies.csv", schema_overrides={"customer_id": pl.String})
    dropped = planted.filter((pl.col("kind") == "drop") & (pl.col("source") == "planted")).select("customer_id", "product_id")
    kept = revenue.join(dropped, on=["customer_id", "product_id"], how="anti")
    assert joined.join(dropped, on=["customer_id", "product_id"], how="anti").height > 0.9 * kept.height
    amount = joined["shipped_qty"] * joined["unit_price"]
    assert ((joined["revenue_amount"] - amount).abs() <= 0.01 * amount + 1).all()
    po = typed(out, "purchase_order")
    open_po = po.filter(pl.col("received_date").is_null())
    assert 0 < open_po.height < po.height
    assert open_po["received_qty"].null_count() == open_po.height
    done = po.filter(pl.col("received_date").is_not_null())
    assert (done["received_qty"] <= done["order_qty"]).all()
    late = (done["received_date"] > done["promised_date"]).mean()
    assert 0.03 < late < 0.5


def test_master_data_shapes(tiny):
    out, _ = tiny
    pm = typed(out, "product_master")
    fg = pm.filter(pl.col("product_type") == "finished_good")
    assert 10 <= fg.height <= 14 and 13 <= pm.height - fg.height <= 17
    assert fg["unit_price"].null_count() == 0 and fg["production_line"].null_count() == 0
    ratio = fg["unit_price"] / fg["unit_cost"]
    assert ratio.min() > 1.0 and ratio.max() < 2.2
    assert fg["eol_date"].null_count() < fg.height  # some products reach end of life
    bom = read_table(out, "bom")
    parents = set(bom["parent_product_id"])
    sub_parents = {p for p in parents if p in set(bom["component_product_id"])}
    assert sub_parents, "the BOM must have at least two levels"
    assert bom.group_by("component_product_id").len()["len"].max() >= 2, "components must be shared"
