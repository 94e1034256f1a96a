"""The M3 converter writes one category's monthly series in forecast_real's layout, and refuses the
category that matches the held-out set."""

import json

import polars as pl
import pytest

from dsop_jobs.tools.forecast_real import orders_from_series
from dsop_jobs.tools.m3_series import main, monthly_series

DATA = {
    "N1": {"period": ["MONTHLY"], "type": ["INDUSTRY"], "x": "[10, 20, 30]", "xx": "[40, 50]"},
    "N2": {"period": ["YEARLY"], "type": ["INDUSTRY"], "x": "[1, 2]", "xx": "[3]"},
    "N3": {"period": ["MONTHLY"], "type": ["MACRO"], "x": [5, 6], "xx": [7]},
}


def test_one_category_train_then_test_numbered_on(tmp_path):
    frame = monthly_series(DATA, "industry")
    assert frame.rows() == [("N1", "train", 1, 10.0), ("N1", "train", 2, 20.0), ("N1", "train", 3, 30.0),
                            ("N1", "test", 4, 40.0), ("N1", "test", 5, 50.0)]
    source, out = tmp_path / "m3.json", tmp_path / "m3.csv"
    source.write_text(json.dumps(DATA))
    assert main([str(source), "INDUSTRY", str(out)]) == 0
    orders = orders_from_series(pl.read_csv(out))  # what forecast_real makes of it
    assert orders["order_qty"].to_list() == [10.0, 20.0, 30.0, 40.0, 50.0]


def test_the_held_out_category_and_an_empty_one_are_refused():
    with pytest.raises(ValueError, match="held-out"):
        monthly_series(DATA, "MICRO")
    with pytest.raises(ValueError, match="no monthly series"):
        monthly_series(DATA, "FINANCE")


def test_several_categories_join_and_the_held_out_one_is_refused_among_them():
    """M1's micro series come in three types (MICRO1-3); joined with commas. M3's MICRO stays refused
    even listed beside others."""
    assert monthly_series(DATA, "industry, macro")["series_id"].unique().sort().to_list() == ["N1", "N3"]
    with pytest.raises(ValueError, match="held-out"):
        monthly_series(DATA, "INDUSTRY,MICRO")
