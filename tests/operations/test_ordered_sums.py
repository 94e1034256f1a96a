"""ordered_sum: the same bits whatever the row order, where a plain sum's order shows in the result."""

import itertools

import polars as pl

from dsop_assets.ordered_sums import ordered_sum


def test_the_sum_does_not_depend_on_row_order():
    # 1e16 + 1 loses the 1, so the order of addition shows in the result.
    values = [1e16, 1.0, -1e16, 3.0, 0.5]
    results = set()
    for perm in itertools.permutations(values):
        frame = pl.DataFrame({"g": [1] * len(perm), "x": list(perm)})
        results.add(frame.group_by("g").agg(ordered_sum(pl.col("x")))["x"].item())
    expected = 0.0
    for v in sorted(values):
        expected += v
    assert results == {expected}


def test_empty_and_null_groups_sum_to_zero_like_sum():
    frame = pl.DataFrame({"g": [1, 1, 2], "x": [None, 2.0, None]}, schema={"g": pl.Int64, "x": pl.Float64})
    out = frame.group_by("g").agg(ordered_sum(pl.col("x")), ordered_sum(pl.col("x").filter(pl.col("x") > 5)).alias("none"))
    assert dict(out.sort("g").select("g", "x").iter_rows()) == {1: 2.0, 2: 0.0}
    assert out["none"].to_list() == [0.0, 0.0]


def test_the_optimiser_keeps_the_order():
    plan = pl.LazyFrame({"g": [1], "x": [1.0]}).group_by("g").agg(ordered_sum(pl.col("x"))).explain()
    assert "sort" in plan  # a sort in front of a plain sum() is dropped by the optimiser
