"""GX's expectation configurations memoised within a validation (dsop_assets/quality/gx_memo.py)."""

from datetime import date

import polars as pl
import pytest

from dsop_assets.quality.expectations import _batch_definition, _expectation, _to_pandas
from dsop_assets.quality.gx_import import great_expectations
from dsop_assets.quality import gx_memo
from dsop_assets.quality.gx_memo import configurations_memoised
from dsop_assets.quality.rules import RULES

WINDOW = (date(2025, 1, 6), date(2025, 1, 13))


def _original_configuration(expectation):
    with configurations_memoised():  # installs the replacement, keeping GX's own getter
        pass
    return gx_memo.gx_configuration(expectation)


def _every_expectation():
    built = [_expectation(rule, WINDOW) for rules in RULES.values() for rule in rules]
    return [e for e in built if e is not None]


def test_memoised_configuration_equals_gx_own_for_every_expectation_dsop_builds():
    expectations = _every_expectation()
    assert len({type(e) for e in expectations}) >= 6
    for expectation in expectations:
        expected = _original_configuration(expectation)
        with configurations_memoised():
            first, second = expectation.configuration, expectation.configuration
        assert type(first) is type(expected)
        assert first.type == expected.type
        assert first.to_json_dict() == expected.to_json_dict() == second.to_json_dict()
        assert first.severity == expected.severity and first.meta == expected.meta


def test_each_read_returns_its_own_containers_and_a_changed_field_rebuilds():
    import great_expectations.expectations as gxe

    expectation = gxe.ExpectColumnValuesToBeInSet(column="grade", value_set=["A", "B"])
    with configurations_memoised():
        first = expectation.configuration
        first.kwargs["value_set"].append("Z")
        first.kwargs["column"] = "changed by a caller"
        second = expectation.configuration
        assert second is not first and second.kwargs is not first.kwargs
        assert second.kwargs["value_set"] == ["A", "B"] and second.kwargs["column"] == "grade"
        expectation.value_set = ["C"]
        assert expectation.configuration.kwargs["value_set"] == ["C"]
        expectation.value_set.append("D")  # changed in place: still seen
        assert expectation.configuration.kwargs["value_set"] == ["C", "D"]


FRAMES = {
    "daily_order": pl.DataFrame({
        "order_id": ["A", "A", None], "order_date": [date(2025, 1, 6), date(2025, 1, 12), date(2025, 1, 13)],
        "customer_id": ["C", "C", "C"], "product_id": ["P", "P", "P"], "order_qty": [1.0, -2.0, 3.0],
        "unit_price": [1.0, 1.0, 1.0], "currency": ["KRW", "XXX", "KRW"],
        "requested_delivery_date": [date(2025, 2, 1)] * 3,
    }),
    "forecast_result": pl.DataFrame({"model_id": ["m", None], "product_id": ["P", "Q"], "p10": [1.0, -5.0],
                                     "p50": [2.0, 4.0], "p90": [3.0, 3.0]}),
    "risk_score": pl.DataFrame({"week_start": [date(2025, 1, 6)] * 2, "product_id": ["P", "P"], "grade": ["A", "E"],
                                "total_score": [10, 101]}),
}


@pytest.mark.parametrize("table", sorted(FRAMES))
@pytest.mark.parametrize("result_format", [
    {"result_format": "BOOLEAN_ONLY"}, {"result_format": "SUMMARY"},
    # what validate() asks for a range run's failures: every unexpected row with its partition column
    {"result_format": "COMPLETE", "unexpected_index_column_names": ["week_start"], "return_unexpected_index_query": False},
], ids=["boolean", "summary", "complete"])
def test_whole_validation_results_are_the_same_with_and_without_the_memo(table, result_format):
    gx = great_expectations()
    frame = FRAMES[table]
    if "week_start" not in frame.columns:
        frame = frame.with_columns(pl.lit(date(2025, 1, 6)).alias("week_start"))
    expectations = [e for r in RULES[table] if all(c in frame.columns for c in r.columns)
                    if (e := _expectation(r, WINDOW)) is not None]
    suite = gx.ExpectationSuite(name="dsop", expectations=expectations)

    def run():
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": _to_pandas(frame)})
        result = batch.validate(suite, result_format=result_format)
        return [r.to_json_dict() for r in result.results], result.success, result.statistics

    plain = run()
    with configurations_memoised():
        memoised = run()
    assert memoised == plain
    assert plain[1] is False  # the frames are built to fail: the report paths ran


def test_fresh_copies_containers_like_pydantic_and_shares_leaves():
    from collections import namedtuple

    from dsop_assets.quality.gx_memo import _fresh

    Pair = namedtuple("Pair", "a b")
    leaf = object()
    value = {"l": [1, {"x": ["y"]}], "t": (1, [2]), "s": {3}, "p": Pair([1], "b"), "o": leaf, "n": None}
    copied = _fresh(value)
    assert copied == value and copied["o"] is leaf
    assert type(copied["p"]) is Pair and copied["p"].a is not value["p"].a
    assert copied["l"][1]["x"] is not value["l"][1]["x"] and copied["t"][1] is not value["t"][1]


def test_a_field_that_cannot_be_compared_falls_back_to_gx_own_property():
    import great_expectations.expectations as gxe
    import numpy as np

    expectation = gxe.ExpectColumnValuesToBeInSet(column="grade", value_set=["A", "B"])
    with configurations_memoised():
        expectation.configuration
        object.__setattr__(expectation, "value_set", np.array(["A", "C"]))  # == gives an array, not a bool
        assert list(expectation.configuration.kwargs["value_set"]) == ["A", "C"]
