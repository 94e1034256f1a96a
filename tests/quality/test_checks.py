"""Each data-quality rule fails on a crafted bad table; a failing blocking check stops the chain."""

from datetime import date

import dagster as dg
import polars as pl
import pytest

from dsop_assets.partitions import weekly_partitions
from dsop_assets.quality.checks import build_quality_check
from dsop_assets.quality.expectations import validate
from dsop_assets.quality.rules import RULES, Rule

WINDOW = (date(2025, 1, 6), date(2025, 1, 13))
GOOD_ORDERS = pl.DataFrame({
    "order_id": ["A", "B"], "order_date": [date(2025, 1, 6), date(2025, 1, 12)], "customer_id": ["C", "C"],
    "product_id": ["P", "P"], "order_qty": [1.0, 2.0], "unit_price": [1.0, 1.0], "currency": ["KRW", "KRW"],
    "requested_delivery_date": [date(2025, 2, 1)] * 2,
})
BAD_CASES = [
    ("order_id unique", GOOD_ORDERS.with_columns(pl.lit("A").alias("order_id"))),
    ("order_id not null", GOOD_ORDERS.with_columns(pl.lit(None, pl.Utf8).alias("order_id"))),
    ("order_qty in [0, 1000000000.0]", GOOD_ORDERS.with_columns(pl.lit(-1.0).alias("order_qty"))),
    ("order_date in partition", GOOD_ORDERS.with_columns(pl.lit(date(2025, 1, 13)).alias("order_date"))),
]


def test_good_orders_pass():
    assert validate(GOOD_ORDERS, RULES["daily_order"], WINDOW).passed


@pytest.mark.parametrize("rule,frame", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_each_raw_rule_fails_on_a_crafted_bad_table(rule, frame):
    outcome = validate(frame, RULES["daily_order"], WINDOW)
    assert not outcome.passed
    assert rule in [f["rule"] for f in outcome.failures]
    assert all(f["examples"] for f in outcome.failures)


def test_output_rules_catch_crossed_bands_bad_grades_and_negative_orders():
    forecasts = pl.DataFrame({"p10": [1.0, 5.0], "p50": [2.0, 4.0], "p90": [3.0, 3.0]})
    failed = {f["rule"] for f in validate(forecasts, RULES["forecast_result"]).failures}
    assert failed == {"p50 >= p10", "p90 >= p50"}
    risk = pl.DataFrame({"week_start": [date(2025, 1, 6)] * 2, "product_id": ["P", "Q"], "grade": ["A", "E"],
                         "total_score": [10, 101]})
    failed = {f["rule"] for f in validate(risk, RULES["risk_score"]).failures}
    assert failed == {"grade in {A, B, C, D, F}", "total_score in [0, 100]"}
    plan = pl.DataFrame({"balance_residual": [0.0, 2.5]})
    assert not validate(plan, RULES["production_plan"]).passed
    purchases = pl.DataFrame({"recommended_qty": [-1.0], "supplier_id": ["S"]})
    assert not validate(purchases, RULES["purchase_recommendation"]).passed


def test_a_failing_blocking_check_stops_the_downstream_chain(warehouse, instance):
    @dg.asset(name="daily_order", partitions_def=weekly_partitions, metadata={"partition_expr": "order_date"})
    def bad_orders(warehouse: dg.ResourceParam) -> None:
        warehouse.write("daily_order", GOOD_ORDERS.with_columns(pl.lit("A").alias("order_id")))

    ran = []

    @dg.asset(partitions_def=weekly_partitions, deps=[bad_orders])
    def downstream() -> None:
        ran.append(True)

    check = build_quality_check(bad_orders)
    result = dg.materialize([bad_orders, downstream, check], partition_key="2025-01-06", instance=instance,
                            resources={"warehouse": warehouse}, raise_on_error=False)
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert evaluation.metadata["failures"].value[0]["rule"] == "order_id unique"
    assert ran == []


def test_every_rule_kind_is_known():
    kinds = {r.kind for rules in RULES.values() for r in rules}
    assert kinds <= {"not_null", "unique", "between", "in_set", "pair_ge", "in_partition"}
    with pytest.raises(ValueError):
        validate(pl.DataFrame({"x": [1]}), [Rule("bogus", ("x",))])


def test_gx_skips_its_whole_frame_fingerprint():
    """The fingerprint knob dsop turns off still exists (a GX upgrade renaming it would bring back
    an md5 over every row of every validated frame), and validation works without it."""
    from great_expectations.execution_engine import pandas_execution_engine

    assert validate(GOOD_ORDERS, RULES["daily_order"], WINDOW).passed
    assert pandas_execution_engine.HASH_THRESHOLD == 0


def test_no_pandas_copy_of_a_validated_frame_stays_alive():
    """GX's engine caches the last batch's frame; dsop drops it, so the last table checked is not
    held through the rest of an in-process run (a GX upgrade moving that cache fails here)."""
    import gc

    import pandas as pd

    frame = pl.concat([GOOD_ORDERS] * 50)  # a height no other frame of the test session has
    assert validate(frame, [r for r in RULES["daily_order"] if r.kind != "unique"], WINDOW).passed
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, pd.DataFrame) and len(o) == frame.height]
    # The same through the key screen (a string key under a uniqueness rule), passing and failing.
    keyed = pl.concat([GOOD_ORDERS] * 51).with_columns(pl.format("O{}", pl.int_range(pl.len())).alias("order_id"))
    assert validate(keyed, RULES["daily_order"], WINDOW).passed
    assert not validate(keyed.with_columns(pl.lit("A").alias("order_id")), RULES["daily_order"], WINDOW).passed
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, pd.DataFrame) and len(o) == keyed.height]


def test_null_strings_and_keys_are_reported_from_arrow_backed_columns():
    frame = pl.concat([GOOD_ORDERS, GOOD_ORDERS.head(1).with_columns(pl.lit(None, pl.Utf8).alias("customer_id"))])
    outcome = validate(frame, RULES["daily_order"], WINDOW, "order_date")
    failed = {f["rule"]: f["unexpected_count"] for f in outcome.failures}
    assert failed == {"customer_id not null": 1, "order_id unique": 2}
    assert outcome.unexpected_days["customer_id not null"] == [date(2025, 1, 6)]
    # The key screen failed, so the days come from the table's own rows: order A twice, both on the 6th.
    assert outcome.unexpected_days["order_id unique"] == [date(2025, 1, 6), date(2025, 1, 6)]


def test_gx_loads_without_the_modules_it_never_runs_and_they_still_load_on_use():
    """altair, scipy.stats and the other modules GX never runs for dsop stay placeholders through a
    validation (altair and scipy.stats were ~40 % of GX's import); code that uses them afterwards gets
    the real modules."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import json, sys, datetime as d, polars as pl\n"
        "from dsop_assets.quality.expectations import validate\n"
        "from dsop_assets.quality.gx_import import DEFERRED_BY_GX\n"
        "from dsop_assets.quality.rules import Rule\n"
        "frame = pl.DataFrame({'k': ['a', 'b'], 'q': [1.0, -1.0]})\n"
        "out = validate(frame, [Rule('unique', ('k',)), Rule('between', ('q',), 0, None)])\n"
        "shells = [type(sys.modules[m]).__name__ for m in DEFERRED_BY_GX if m in sys.modules]\n"
        "from scipy import stats\n"
        "import altair, jsonschema\n"
        "print(json.dumps([out.passed, [f['rule'] for f in out.failures], shells, float(stats.norm.cdf(0.0)),"
        " hasattr(altair, 'Chart') and hasattr(jsonschema, 'validate'),"
        " [type(sys.modules[m]).__name__ for m in ('scipy.stats', 'jsonschema')]]))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(root)})
    passed, failed, shells, cdf, has_chart, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert (passed, failed) == (False, ["q in [0, None]"])
    assert shells == ["_Deferred"] * len(shells) and len(shells) >= 2
    assert cdf == 0.5 and has_chart and loaded == ["module", "module"]


def test_a_passing_suite_is_validated_once_pass_fail_only_and_a_failing_one_reports_in_full(monkeypatch):
    """The cheap pass/fail validation (half of GX's cost) is all a passing suite pays; a failing suite is
    validated again with counts, examples and its rows' partitions."""
    from great_expectations.datasource.fluent.interfaces import Batch

    formats = []
    real = Batch.validate

    def spy(self, expect, *, result_format="SUMMARY", **kwargs):
        formats.append(result_format["result_format"])
        return real(self, expect, result_format=result_format, **kwargs)

    monkeypatch.setattr(Batch, "validate", spy)
    assert validate(GOOD_ORDERS, RULES["daily_order"], WINDOW, "order_date").passed
    assert formats == ["BOOLEAN_ONLY"]
    formats.clear()
    outcome = validate(BAD_CASES[2][1], RULES["daily_order"], WINDOW, "order_date")
    assert formats == ["BOOLEAN_ONLY", "COMPLETE"]
    assert [(f["rule"], f["unexpected_count"], f["examples"]) for f in outcome.failures] == [
        ("order_qty in [0, 1000000000.0]", 2, ["-1.0", "-1.0"])]
    assert outcome.unexpected_days["order_qty in [0, 1000000000.0]"] == [date(2025, 1, 6), date(2025, 1, 12)]


def _unscreened(frame: pl.DataFrame, rules: list[Rule], window=None, partition_column=None):
    # validate() without the key-code screen: GX on the table's own values.
    from dsop_assets.quality.expectations import _to_pandas, _validate_pandas

    applicable = [r for r in rules if all(c in frame.columns for c in r.columns)]
    return _validate_pandas(_to_pandas(frame), applicable, window, partition_column)


KEYED = [Rule("unique", ("order_id",)), Rule("unique", ("customer_id", "product_id")),
         Rule("not_null", ("customer_id",)), Rule("in_set", ("currency",), values=("KRW", "USD")),
         Rule("not_null", ("warehouse_id",))]
BASE = GOOD_ORDERS.with_columns(pl.Series("product_id", ["P", "Q"]), pl.Series("warehouse_id", ["W", "W"]))
SCREEN_CASES = {
    "all pass": BASE,
    "a repeated id": BASE.with_columns(pl.lit("A").alias("order_id")),
    "two null ids": BASE.with_columns(pl.lit(None, pl.Utf8).alias("order_id")),  # GX's map rules skip nulls
    "one null id": BASE.with_columns(pl.Series("order_id", ["A", None])),
    "a repeated pair": BASE.with_columns(pl.Series("product_id", ["P", "P"])),
    "a null customer": BASE.with_columns(pl.Series("customer_id", ["C", None])),
    "a null customer and a repeated id": BASE.with_columns(pl.Series("customer_id", ["C", None]), pl.lit("A").alias("order_id")),
    "a currency outside the set": BASE.with_columns(pl.Series("currency", ["KRW", "EUR"])),
    "a null warehouse": BASE.with_columns(pl.Series("warehouse_id", [None, "W"])),
}


@pytest.mark.parametrize("name", list(SCREEN_CASES))
def test_the_key_code_screen_decides_and_reports_as_gx_on_the_strings(name):
    frame = SCREEN_CASES[name]
    screened, plain = validate(frame, KEYED), _unscreened(frame, KEYED)
    assert (screened.passed, screened.failures, screened.evaluated) == (plain.passed, plain.failures, plain.evaluated)


def test_the_screen_codes_only_strings_that_uniqueness_and_not_null_alone_read():
    from dsop_assets.quality.expectations import keys_as_codes

    coded = keys_as_codes(BASE, KEYED)
    # order_id, customer_id and product_id become ranks; currency (an in-set rule reads it) and warehouse_id (no
    # uniqueness rule: coding it saved nothing) keep their strings.
    assert coded.schema["order_id"] == coded.schema["customer_id"] == coded.schema["product_id"] == pl.Int64
    assert coded["order_id"].to_list() == [1, 2]
    assert keys_as_codes(SCREEN_CASES["one null id"], KEYED)["order_id"].to_list() == [1, None]
    assert coded["currency"].to_list() == ["KRW", "KRW"] and coded["warehouse_id"].to_list() == ["W", "W"]
    assert keys_as_codes(GOOD_ORDERS, [Rule("in_set", ("currency",), values=("KRW",))]) is None
    repeated = BASE.with_columns(pl.lit("A").alias("order_id"))
    assert validate(repeated, KEYED).failures == [{"rule": "order_id unique", "unexpected_count": 2, "examples": ["A", "A"]}]
