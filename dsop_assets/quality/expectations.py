"""Run a table's rules as a Great Expectations suite and report failures with examples.

great_expectations costs ~1-2 s CPU and ~260 MB to import, so it is imported lazily, only when a
check actually runs (``gx_import``).

GX validates the frame already in memory (its pandas engine; its SQL engine fails every metric on
duckdb-engine because GX releases the connection before fetching a query's rows, see
docs/performance.md section 8). What it is handed is kept cheap: only the columns the rules
read, numbers as numpy, strings as Arrow-backed pandas columns (no Python object per value), and
GX's whole-frame fingerprint switched off (see ``_batch_definition``).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, timedelta

import polars as pl
import polars.selectors as cs

from dsop_assets.gc_pause import imports_without_gc
from dsop_assets.quality.gx_import import great_expectations as _great_expectations
from dsop_assets.quality.gx_memo import configurations_memoised
from dsop_assets.quality.rules import Rule


@dataclass
class Outcome:
    passed: bool
    failures: list[dict]
    evaluated: int
    # rule -> partition-column dates of its unexpected rows (only when asked for a partition column)
    unexpected_days: dict[str, list[date | None]] = field(default_factory=dict)


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


def validate(
    frame: pl.DataFrame,
    rules: list[Rule],
    window: tuple[date, date] | None = None,
    partition_column: str | None = None,
) -> Outcome:
    """All rules whose columns exist in ``frame``; an empty frame passes (nothing to guard).

    With ``partition_column``, each failure also says which dates (of that column) its unexpected
    rows carry, so a check over a range of partitions can stamp each partition on its own.
    """
    applicable = [r for r in rules if all(c in frame.columns for c in r.columns)]
    if frame.is_empty() or not applicable:
        return Outcome(True, [], 0)
    attribute = partition_column if partition_column in frame.columns else None
    needed = {c for rule in applicable for c in rule.columns} | ({attribute} if attribute else set())
    selected = frame.select([c for c in frame.columns if c in needed])
    screen = keys_as_codes(selected, applicable)
    if screen is not None:
        screened = _validate_pandas(_to_pandas(screen), applicable, window, None, mode="screen")
        if screened.passed:
            return screened
        # What failed is reported from the table's own values, as if there had been no screen.
        return _validate_pandas(_to_pandas(selected), applicable, window, attribute, mode="details")
    return _validate_pandas(_to_pandas(selected), applicable, window, attribute)


def keys_as_codes(frame: pl.DataFrame, applicable: list[Rule]) -> pl.DataFrame | None:
    """``frame`` with each string column that only uniqueness and not-null rules read replaced by its
    dense rank (equal strings, equal codes; a null stays null), or None when there is no such column.

    GX's pandas uniqueness (``Series.duplicated``) hashes every string: ~0.8 s per 2 M order ids, the
    largest part of the large raw load's checks. On int64 codes it takes ~0.1 s, and Polars ranks the
    strings in ~0.07 s. The mapping is one to one, so every such rule passes or fails on the codes
    exactly as on the strings; only the examples of a failure need the strings, and a failing screen
    is validated again on the table's own values (``validate``)."""
    readers: dict[str, set[str]] = {}
    for rule in applicable:
        for column in rule.columns:
            readers.setdefault(column, set()).add(rule.kind)
    coded = [c for c, kinds in readers.items()
             if kinds <= {"unique", "not_null"} and "unique" in kinds and frame.schema.get(c) == pl.String]
    if not coded:
        return None
    return frame.with_columns(pl.col(c).rank("dense").cast(pl.Int64) for c in coded)


def _validate_pandas(frame, applicable: list[Rule], window: tuple[date, date] | None, attribute: str | None,
                     mode: str = "full") -> Outcome:
    """``mode``: "full" decides pass/fail cheaply first and reports a failure's details; "screen" only
    decides pass/fail (no failure details); "details" goes straight to the details (a failed screen)."""
    batch_definition = _batch_definition()
    gx = _great_expectations()
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    expectations, rule_by_id = [], {}
    for rule in applicable:
        expectation = _expectation(rule, window)
        if expectation is not None and (identity := _identity(expectation.configuration)) not in rule_by_id:
            expectations.append(expectation)
            rule_by_id[identity] = rule
    # Handed over at construction, already unique: ``add_expectation`` compares each expectation with
    # every one before it (two pydantic dicts per pair) and asks the context whether the suite was saved.
    suite = gx.ExpectationSuite(name="dsop", expectations=expectations)
    result_format = {"result_format": "SUMMARY"}
    if attribute:
        # COMPLETE lists every unexpected row with its partition column (nothing extra when all pass).
        result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": [attribute],
                         "return_unexpected_index_query": False}
    # Pass/fail first: GX's bookkeeping for counts and examples (its SUMMARY/COMPLETE formats) is half
    # of a validation's cost (seed daily_order: 107 -> 55 ms CPU), and almost every suite passes. Only
    # a suite that fails runs again to report what failed, with the same rules on the same batch.
    with configurations_memoised():
        result = None if mode == "details" else batch.validate(suite, result_format={"result_format": "BOOLEAN_ONLY"})
        if mode == "screen":
            passed = result.success
            _forget_batch(batch)
            del batch, result
            _release_freed_memory()
            return Outcome(passed, [], len(rule_by_id))
        if result is None or not result.success:
            result = batch.validate(suite, result_format=result_format)
    failures, unexpected_days = [], {}
    for item in result.results:
        rule = rule_by_id[_identity(item.expectation_config)]
        if not item.success:
            examples = item.result.get("partial_unexpected_list") or []
            if rule.kind == "in_partition":
                examples = [_from_day_number(e) for e in examples]
            error = (item.exception_info or {}).get("exception_message")
            if error:
                examples = [f"expectation could not run: {error}"]
            failures.append({
                "rule": rule.describe(),
                "unexpected_count": item.result.get("unexpected_count"),
                "examples": [str(e) for e in examples[:5]],
            })
            if attribute:
                unexpected_days[rule.describe()] = [
                    _from_day_number(row.get(attribute)) for row in item.result.get("unexpected_index_list") or []
                ]
    failures.sort(key=lambda f: f["rule"])
    _forget_batch(batch)
    del batch, result
    _release_freed_memory()
    return Outcome(not failures, failures, len(rule_by_id), unexpected_days)


def warm_up() -> None:
    """Import GX, build this process's context and validate one small frame with every kind of rule,
    failing ones included, so a process that forks runs (the warm run worker) has paid for all of it
    once: its runs' first check step then costs what every other one does (~0.05 s at seed, not ~0.4 s).

    The frame is built in pandas, as ``_to_pandas`` would hand it over, not in Polars: Polars' thread
    pool, once started, does not exist in a forked child, and the child's first parallel Polars call
    would wait for it for ever. The worker checks that no such pool was started (run_worker)."""
    import pandas as pd
    import pyarrow as pa

    first, last = date(2024, 1, 1), date(2024, 1, 8)
    frame = pd.DataFrame({"k": pd.Series([1, 1], dtype="int64"), "a": [2.0, 1.0], "b": [1.0, 2.0],
                          "s": pd.Series(pd.arrays.ArrowExtensionArray(pa.array(["x", "y"]))),
                          "d": pd.Series([_day_number(first), _day_number(last)], dtype="int64")})
    rules = [Rule("not_null", ("k",)), Rule("unique", ("k",)), Rule("unique", ("k", "s")),
             Rule("between", ("a",), min_value=0, max_value=1), Rule("in_set", ("s",), values=("x",)),
             Rule("pair_ge", ("a", "b")), Rule("in_partition", ("d",))]
    outcome = _validate_pandas(frame, rules, (first, last), "d")
    # Planted: k twice, a above 1, s = "y", a < b in the second row, d on the window's end (exclusive).
    if len(outcome.failures) != 5:
        raise RuntimeError(f"GX warm-up: expected the 5 planted failures, got {outcome.failures}")


def _forget_batch(batch) -> None:
    """Drop the pandas copy GX's execution engine keeps of the last batch validated.

    The engine's batch manager caches the batch and its frame per batch id, and every dsop batch has the same id, so the last
    table checked stayed in memory until the next check of the process (at large scale, through the
    whole feature-store build). tests/quality/test_checks.py fails if a GX upgrade moves the cache.
    """
    manager = batch.data.execution_engine.batch_manager
    manager.reset_batch_cache()  # the Batch objects
    manager._batch_data_cache.pop(batch.id, None)  # their data (no public way to drop it)


def _release_freed_memory() -> None:
    """Give the pages freed by the validation (the pandas copy, GX's metric frames) back to the OS.

    They come from glibc's malloc, which keeps freed memory for reuse; in an in-process run the next
    steps allocate through other allocators (Polars, DuckDB), so the kept pages only raised the
    run's peak (large aggregates: the feature store started from ~1.7 GiB held after the checks).
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


@lru_cache(maxsize=1)
def _batch_definition():
    """One ephemeral GX context per process: building one costs about a second, a batch nothing.

    Built on the calling step's own thread. GX was once imported on a background thread beside the raw
    loads; its import of sqlalchemy.orm raced the step's Dagster event storage importing the same
    modules, and a clean-clone test run failed on a partially initialised module."""
    # GX's ~200,000 objects (pydantic models of every expectation and data source) are created with
    # the cyclic collector paused and frozen afterwards: 0.4-0.6 s less CPU (dsop_assets/gc_pause.py).
    with imports_without_gc(collect_first=True):
        return _build_batch_definition()


def _build_batch_definition():
    gx = _great_expectations()
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every pandas batch under 1 GB (an md5 over ``hash_pandas_object`` of all rows)
    # for the batch's metadata, which dsop never reads: it was over half of each validation (2 of
    # 3.5 s CPU on 1.6 M orders). A threshold of 0 treats every frame as GX treats large ones.
    # tests/quality/test_checks.py fails if a GX upgrade drops this knob.
    pandas_execution_engine.HASH_THRESHOLD = 0
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


def _from_day_number(value) -> date | None:
    if value is None or value != value:  # None or NaN
        return None
    return EPOCH + timedelta(days=int(value))


def _to_pandas(frame: pl.DataFrame):
    """Dates as day numbers and every integer as int64: GX compares int64/float64 columns
    vectorised but anything else (timestamps, int32) row by row, seconds for 200k rows.
    Failing examples are turned back into dates for the report. Strings stay Arrow arrays
    (pandas ``ArrowDtype``): an object column costs a Python string per value, ~4x the memory."""
    import pandas as pd

    frame = frame.with_columns(cs.date().cast(pl.Int64), cs.integer().cast(pl.Int64))
    columns = {
        name: pd.Series(pd.arrays.ArrowExtensionArray(series.to_arrow()), name=name)
        if series.dtype == pl.Utf8 else series.to_pandas()
        for name, series in frame.to_dict().items()
    }
    return pd.DataFrame(columns)
