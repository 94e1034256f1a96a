"""Coherent hierarchy: pairs sum to their product, totals sum their parts, bands stay ordered."""

from datetime import date, datetime, timezone

import polars as pl
import pytest

from dsop_assets.forecast.hierarchy import coherent


def _rows(rows):
    base = {"model_id": "m", "model_version": "v", "cadence": "monthly", "origin_date": date(2025, 1, 1),
            "as_of": date(2025, 1, 31), "target_start": date(2025, 2, 1), "horizon": 1, "band_scale": 1.0,
            "band_scale_low": 1.0, "bias_scale": 1.0, "method": "model",
            "created_at": datetime(2025, 2, 1, tzinfo=timezone.utc), "member_set": "all", "p50_lgbm": 1.0}
    return pl.DataFrame([{**base, "level": lv, "product_id": p, "customer_id": c, "p10": lo, "p50": mid, "p90": hi,
                          "mean": mid} for lv, p, c, lo, mid, hi in rows])


def test_pairs_reconcile_to_the_product_and_totals_add_up():
    result = _rows([
        ("product", "A", "ALL", 80.0, 100.0, 130.0),
        ("customer_product", "A", "C1", 20.0, 30.0, 40.0),  # pairs sum to 50: scaled x2
        ("customer_product", "A", "C2", 10.0, 20.0, 30.0),
        ("product", "B", "ALL", 0.0, 10.0, 20.0),
        ("customer_product", "B", "C1", 0.0, 10.0, 20.0),
    ])
    groups = pl.DataFrame({"product_id": ["A", "B"], "product_group": ["g1", "g1"]})
    out = coherent(result, groups)
    pairs = out.filter(pl.col("level") == "customer_product").sort("product_id", "customer_id")
    assert pairs["mean"].to_list() == [60.0, 40.0, 10.0]
    assert pairs["p10"].to_list() == [40.0, 20.0, 0.0] and pairs["p90"].to_list() == [80.0, 60.0, 20.0]
    group = out.filter(pl.col("level") == "product_group").row(0, named=True)
    assert group["product_id"] == "g1" and group["mean"] == 110.0
    # half-widths in quadrature: below sqrt(20^2 + 10^2), above sqrt(30^2 + 10^2)
    assert group["p10"] == pytest.approx(110 - 500 ** 0.5) and group["p90"] == pytest.approx(110 + 1000 ** 0.5)
    customers = out.filter(pl.col("level") == "customer").sort("customer_id")
    assert customers["mean"].to_list() == [70.0, 40.0] and set(customers["model_id"]) == {"hierarchy_sum"}
    assert out.filter((pl.col("p10") > pl.col("p50")) | (pl.col("p50") > pl.col("p90"))).is_empty()
