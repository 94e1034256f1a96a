"""Run a table's rules as a Great Expectations suite and report failures with examples.

great_expectations costs ~4 s and ~260 MB to import, so it is imported here, lazily, only when a
check actually runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, timedelta

import polars as pl

from dsop_assets.quality.rules import Rule

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@dataclass
class Outcome:
    passed: bool
    failures: list[dict]
    evaluated: int


def _expectation(rule: Rule, window: tuple[date, date] | None):
    import great_expectations.expectations as gxe

    (first, *rest) = rule.columns
    if rule.kind == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=first)
    if rule.kind == "unique":
        if rest:
            return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(rule.columns))
        return gxe.ExpectColumnValuesToBeUnique(column=first)
    if rule.kind == "between":
        return gxe.ExpectColumnValuesToBeBetween(column=first, min_value=rule.min_value, max_value=rule.max_value)
    if rule.kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(column=first, value_set=list(rule.values))
    if rule.kind == "pair_ge":
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=first, column_B=rest[0], or_equal=True)
    if rule.kind == "in_partition":
        if window is None:
            return None
        start, end = window
        return gxe.ExpectColumnValuesToBeBetween(
            column=first, min_value=_day_number(start), max_value=_day_number(end - timedelta(days=1))
        )
    raise ValueError(f"unknown rule kind {rule.kind!r}")


def validate(frame: pl.DataFrame, rules: list[Rule], window: tuple[date, date] | None = None) -> Outcome:
    """All rules whose columns exist in ``frame``; an empty frame passes (nothing to guard)."""
    applicable = [r for r in rules if all(c in frame.columns for c in r.columns)]
    if frame.is_empty() or not applicable:
        return Outcome(True, [], 0)
    import great_expectations as gx

    batch = _batch_definition().get_batch(batch_parameters={"dataframe": _to_pandas(frame)})
    suite = gx.ExpectationSuite(name="dsop")
    rule_by_id = {}
    for rule in applicable:
        expectation = _expectation(rule, window)
        if expectation is not None:
            suite.add_expectation(expectation)
            rule_by_id[_identity(expectation.configuration)] = rule
    result = batch.validate(suite, result_format="SUMMARY")
    failures = []
    for item in result.results:
        rule = rule_by_id[_identity(item.expectation_config)]
        if not item.success:
            examples = item.result.get("partial_unexpected_list") or []
            if rule.kind == "in_partition":
                examples = [str(EPOCH + timedelta(days=int(e))) if e is not None else None for e in examples]
            error = (item.exception_info or {}).get("exception_message")
            if error:
                examples = [f"expectation could not run: {error}"]
            failures.append({
                "rule": rule.describe(),
                "unexpected_count": item.result.get("unexpected_count"),
                "examples": [str(e) for e in examples[:5]],
            })
    failures.sort(key=lambda f: f["rule"])
    return Outcome(not failures, failures, len(rule_by_id))


@lru_cache(maxsize=1)
def _batch_definition():
    """One ephemeral GX context per process: building one costs about a second, a batch nothing."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    return (
        context.data_sources.add_pandas("dsop")
        .add_dataframe_asset("table")
        .add_batch_definition_whole_dataframe("all")
    )


def _identity(configuration) -> str:
    # Ephemeral suites give expectations no ids; type + arguments identify one within a suite.
    kwargs = {k: v for k, v in configuration.kwargs.items() if k != "batch_id"}
    return f"{configuration.type}:{sorted((k, str(v)) for k, v in kwargs.items())}"


EPOCH = date(1970, 1, 1)


def _day_number(day: date) -> int:
    return (day - EPOCH).days


def _to_pandas(frame: pl.DataFrame):
    # Dates as day numbers: GX compares numbers vectorised but timestamps row by row (seconds
    # for 200k rows); failing examples are turned back into dates for the report.
    return frame.with_columns(pl.col(pl.Date).cast(pl.Int32)).to_pandas()
