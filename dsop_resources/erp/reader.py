"""Parse and validate ERP exports against the contract, keeping every bad row with its reason.

Valid rows load; each rejected row goes to the quarantine with file, line, raw values and reason.
Only a file whose header lacks required columns stops the load, with a message naming them.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from dsop_resources.erp.contract import TableContract
from dsop_resources.erp.mapping import _norm, find_files, header_lookup
from dsop_resources.erp.scope import UNDATED, PartitionScope, repeated_key_lines

REJECTED_SCHEMA = {
    "source_table": pl.Utf8,
    "file_name": pl.Utf8,
    "line_number": pl.Int64,
    "raw_values": pl.Utf8,
    "reason": pl.Utf8,
    "partition_key": pl.Utf8,
}
RECORD_SCHEMA = {"source_file": pl.Utf8, "source_line": pl.Int64, "partition_key": pl.Utf8}
_POLARS_TYPES = {"str": pl.Utf8, "date": pl.Date, "float": pl.Float64, "int": pl.Int64}


class ErpContractError(ValueError):
    """An export that cannot be read at all (missing file or required header columns)."""


@dataclass
class ParsedTable:
    table: TableContract
    valid: pl.DataFrame
    rejected: pl.DataFrame
    files: list[str] = field(default_factory=list)
    encodings: dict[str, str] = field(default_factory=dict)
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    # Every row read (file, line, partition_key) and the valid rows a newer file replaced: with
    # valid and rejected they account for each row of the files or, with a scope, each of its rows
    # (the rows-accounted check counts the same scope in the warehouse, so it still balances).
    records: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RECORD_SCHEMA))
    superseded: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RECORD_SCHEMA))
    # The partitions valid, rejected, records and superseded are limited to; None when they hold
    # every row of the files (no scope asked, or one where a row outside it can decide one inside).
    # files, encodings and ignored_columns always describe the whole files.
    scope: PartitionScope | None = None


def empty_frame(table: TableContract) -> pl.DataFrame:
    schema = {c.name: _POLARS_TYPES[c.dtype] for c in table.columns}
    return pl.DataFrame(schema={**schema, "source_file": pl.Utf8, "source_line": pl.Int64})


def decode(raw: bytes, path: Path) -> tuple[str, str]:
    """UTF-8 (with or without BOM) first, CP949 otherwise: Korean ERPs export either."""
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp949"), "cp949"
    except UnicodeDecodeError as error:
        raise ErpContractError(
            f"{path.name}: neither UTF-8 nor CP949 (byte {error.start}); re-export as UTF-8 or CP949"
        ) from None


# A record is well formed when every field is either unquoted (no quote, no comma) or wholly quoted
# with doubled inner quotes; anything else (a stray quote, text after a closing quote) is ambiguous.
_QUOTED = r'"(?:[^"]|"")*"'
_FIELD = rf'(?:{_QUOTED}|[^",]*)'
_WELL_FORMED = rf"^{_FIELD}(?:,{_FIELD})*$"
# Plain digits or correctly grouped thousands; an optional minus and decimals. Nothing else
# (no NaN/inf, no exponent, no "1,5"): a value that is not exactly what the file says is rejected.
_FLOAT = r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$"
_INT = r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)$"
_NON_FINITE = r"(?i)^[+-]?(?:nan|inf|infinity)$"
_DATE = r"^(?:\d{4}-\d{2}-\d{2}|\d{4}/\d{2}/\d{2}|\d{4}\.\d{2}\.\d{2}|\d{8})$"
_DATE_PREFIX = r"^(?:\d{4}[-/.]\d{2}[-/.]\d{2}|\d{8})"


def split_records(data: bytes) -> pl.DataFrame:
    """Physical lines grouped into CSV records: ``line`` (first physical line, header = 1), ``text``
    and ``problem`` (a structural reason, or null), all computed column-wise.

    A quoted value may span lines, so a line continues the record before it while the quotes seen
    so far are unbalanced; line numbers stay those of the file, not of the records.

    ``data`` is UTF-8. The lines are cut at the file's own line breaks by offsets into ``data``
    (no per-line copies: splitting the decoded text cost ~5x the file in memory) and keep their
    line break; ``bare`` drops it where the text itself is shown or matched.
    """
    import pyarrow as pa  # here: only a CSV read needs it, not loading the definitions

    ends_with_break = data.endswith(b"\n")
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n")) + 1
    if not ends_with_break:
        ends = np.append(ends, len(data))
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    lines = pl.from_arrow(pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data)))
    frame = pl.DataFrame({"text": lines}).with_row_index("line", offset=1).with_columns(pl.col("line").cast(pl.Int64))
    # Without a quote anywhere (the usual export) every line is a record of its own.
    quoted = data.find(b'"') >= 0
    quotes = pl.col("text").str.count_matches('"', literal=True)
    frame = frame.with_columns(((quotes.cum_sum() - quotes) % 2 == 1).alias("_continues") if quoted
                               else pl.lit(False).alias("_continues"))
    unbalanced_at_end = quoted and bool(frame.height) and bool(
        (frame["text"].str.count_matches('"', literal=True).sum() % 2) == 1
    )
    if frame["_continues"].any():
        # A record's lines joined as they are; "\r\n" inside becomes "\n" (each line's "\r" is
        # part of its line break, not of the value).
        frame = (
            frame.with_columns((~pl.col("_continues")).cum_sum().alias("_record"))
            .group_by("_record", maintain_order=True)
            .agg(pl.col("line").first(), pl.col("text").str.join(""))
            .drop("_record")
            .with_columns(pl.col("text").str.replace_all("\r\n", "\n", literal=True))
        )
    else:
        frame = frame.drop("_continues")
    last = pl.int_range(pl.len()) == pl.len() - 1
    return frame.with_columns(
        pl.when(last & pl.lit(unbalanced_at_end))
        .then(pl.lit("truncated line: a quoted value is never closed (file cut off?)"))
        .when(last & pl.lit(not ends_with_break))
        .then(pl.lit("truncated line: the file's last line has no line break (file cut off?); "
                     "re-export the file or end it with a line break"))
        .alias("problem")
    )


def bare(text: pl.Expr | pl.Series):
    """A record's text without its line break."""
    return text.str.strip_suffix("\n").str.strip_suffix("\r")


def _utf8(raw: bytes, encoding: str) -> bytes:
    """The file's bytes as UTF-8 without a BOM (the file itself when it is UTF-8 already)."""
    if encoding == "utf-8":
        return raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw
    return raw.decode(encoding).encode("utf-8")


def _header(path: Path, record: str) -> list[str]:
    fields = next(csv.reader([record.removesuffix("\n").removesuffix("\r")]), [])
    if not any(f.strip() for f in fields):
        raise ErpContractError(f"{path.name}: first line is empty: a CSV export needs a header line")
    return fields


def read_export(path: Path, table: TableContract, mapping: dict) -> tuple[pl.DataFrame, str, list[str]]:
    """One file as strings with canonical column names, its physical line numbers and, per record,
    a structural problem (ragged, malformed quoting, truncated) that rejects it before typing.

    Everything is read as text once; records are split and counted here, column-wise, so a ragged
    or cut-off line is caught instead of being silently padded or truncated by the CSV reader.
    """
    raw = path.read_bytes()
    if not raw or raw.isspace():  # (not ``strip()``: a copy of the whole file)
        raise ErpContractError(f"{path.name}: the file is empty ({len(raw)} bytes): no header line, no rows")
    encoding = decode(raw, path)[1]  # the decoded text itself is not kept: the lines are cut from bytes
    raw = _utf8(raw, encoding)
    records = split_records(raw)
    header = _header(path, records["text"][0])
    width = len(header)
    lookup = header_lookup(table, mapping)
    renames: dict[int, str] = {}
    ignored: list[str] = []
    for index, name in enumerate(header):
        canonical = lookup.get(_norm(name))
        if canonical and canonical not in renames.values():
            renames[index] = canonical
        else:
            ignored.append(name)
    missing = [c for c in table.required_columns if c not in renames.values()]
    if missing:
        raise ErpContractError(
            f"{path.name}: header lacks required column(s) {', '.join(missing)} for table "
            f"{table.name} (found: {', '.join(header)}); see docs/erp_contract.md"
        )
    body = records.slice(1).filter(pl.col("text").str.strip_chars() != "")  # blank lines are no rows
    # Commas inside quotes are no separators; only the (rarer) quoted records get the regex work,
    # gathered out and scattered back so the frame keeps its order.
    lines = body["text"]
    fields_read = lines.str.count_matches(",", literal=True) + 1
    malformed = pl.repeat(False, body.height, eager=True)
    quoted = lines.str.contains('"', literal=True).arg_true() if raw.find(b'"') >= 0 else pl.Series([], dtype=pl.UInt32)
    if quoted.len():
        subset = bare(lines.gather(quoted))
        fields_read = fields_read.scatter(quoted, subset.str.replace_all(_QUOTED, "").str.count_matches(",", literal=True) + 1)
        malformed = malformed.scatter(quoted, ~subset.str.contains(_WELL_FORMED))
    body = body.with_columns(fields_read.alias("_fields"), malformed.alias("_malformed"))
    fields = pl.col("_fields")
    problem = (
        pl.when(pl.col("problem").is_not_null()).then(pl.col("problem"))
        .when(pl.col("_malformed")).then(
            pl.lit("malformed quoting: a quote inside an unquoted value or text after a closing quote"))
        .when(fields > width).then(pl.format(f"too many fields: {{}} (header has {width})", fields))
        .when(fields < width).then(pl.format(f"too few fields: {{}} (header has {width})", fields))
    )
    body = body.with_columns(problem.alias("problem")).drop("_fields", "_malformed")
    good = body.filter(pl.col("problem").is_null())
    # Records with a structural problem keep their line's text for the quarantine; the others need
    # only their line numbers (their values come from the CSV reader below).
    bad = body.filter(pl.col("problem").is_not_null()).with_columns(bare(pl.col("text")))
    names = [f"_c{i}" for i in range(width)]
    if good.height:
        # Usually every record is good and one line long: then the CSV reader reads the file's bytes
        # as they are, past the header line.
        whole = good.height == records.height - 1 and good.height == int(records["line"][-1]) - 1
        if whole:
            data, skip = raw, 1
        else:
            # Every good record still ends with its line break (only a file's cut-off last line
            # has none, and that record is rejected): joined as they are, they are the CSV text.
            data, skip = good["text"].str.join("").cast(pl.Binary).item(), 0
        del records, body, raw  # the file's copies go before the values arrive
        values = pl.read_csv(
            data, has_header=False, skip_lines=skip, new_columns=names, infer_schema=False,
            truncate_ragged_lines=False,
        )
        del data
        if values.height != good.height:  # the line analysis and the CSV reader must agree
            raise ErpContractError(f"{path.name}: {good.height} records found but {values.height} parsed")
    else:
        values = pl.DataFrame(schema={n: pl.Utf8 for n in names})
    values = values.select([pl.col(f"_c{i}").alias(c) for i, c in renames.items()])
    frame = pl.concat([good.select("line"), values], how="horizontal")
    frame = frame.with_columns(pl.lit(None, pl.Utf8).alias("problem"), pl.lit(None, pl.Utf8).alias("text"))
    if bad.height:  # both in line order: merged, not re-sorted
        bad = bad.select([pl.col(c) if c in bad.columns else pl.lit(None, pl.Utf8).alias(c) for c in frame.columns])
        frame = frame.merge_sorted(bad.cast(frame.schema), key="line")
    for column in table.column_names:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(column))
    frame = frame.select(
        *table.column_names,
        pl.col("line").alias("source_line"),
        pl.lit(path.name).alias("source_file"),
        pl.col("problem").alias("_problem"),
        pl.col("text").alias("_line_text"),
    )
    return frame, encoding, ignored


def parse_date(col: str) -> pl.Expr:
    """Strict: the whole value must be one of the accepted date layouts (null otherwise)."""
    text = pl.col(col).str.strip_chars()
    # The regex admits exactly one layout per value; Polars' own parsers then read it (fast). The
    # "/" and "." layouts become "-" first: two parses instead of four (the date parse dominated).
    dashed = text.str.replace_all("/", "-", literal=True).str.replace_all(".", "-", literal=True)
    value = pl.coalesce(dashed.str.to_date("%Y-%m-%d", strict=False), text.str.to_date("%Y%m%d", strict=False))
    return pl.when(text.str.contains(_DATE)).then(value)


def _parse_number(col: str, dtype: pl.DataType) -> pl.Expr:
    text = pl.col(col).str.strip_chars()
    pattern = _INT if dtype == pl.Int64 else _FLOAT
    return pl.when(text.str.contains(pattern)).then(text.str.replace_all(",", "", literal=True).cast(dtype, strict=False))


def _value_reason(col, raw: pl.Expr, blank: pl.Expr, value: pl.Expr) -> pl.Expr | None:
    """One reason per unreadable cell, specific enough to fix the export by."""
    if col.dtype == "str":
        return None
    bad = ~blank & value.is_null()
    if col.dtype == "date":
        return (
            pl.when(bad & raw.str.contains(_DATE_PREFIX) & ~raw.str.contains(_DATE))
            .then(pl.format(f"trailing text after date in {col.name}: '{{}}'", raw))
            .when(bad)
            .then(pl.format(f"unparseable date in {col.name}: '{{}}'", raw))
        )
    return (
        pl.when(bad & raw.str.contains(_NON_FINITE))
        .then(pl.format(f"non-finite number in {col.name}: '{{}}'", raw))
        .when(bad & raw.str.contains(r"^-?[\d,]+(?:\.\d+)?$") & raw.str.contains(",", literal=True))
        .then(pl.format(f"badly grouped thousands in {col.name}: '{{}}'", raw))
        .when(bad)
        .then(pl.format(f"unparseable {col.dtype} in {col.name}: '{{}}'", raw))
    )


def typed_value(col) -> pl.Expr:
    """One column's value as its contract type; null where blank or unreadable."""
    if col.dtype == "date":
        value = parse_date(col.name)
    elif col.dtype in ("float", "int"):
        value = _parse_number(col.name, _POLARS_TYPES[col.dtype])
    else:
        raw = pl.col(col.name).str.strip_chars()
        value = pl.when(raw != "").then(raw)
    return value.alias(col.name)


def type_rows(frame: pl.DataFrame, table: TableContract) -> pl.DataFrame:
    """Typed columns plus a ``_reasons`` column naming every rule a row breaks (null if none).

    Keeps the text as read in ``_raw_<column>`` (and ``_line_text``/``_problem`` for records with a
    structural problem: ragged, truncated or malformed quoting, whose one reason is that problem).
    Cheap boolean rules flag suspect rows over the whole frame; the reason texts are built for the
    suspects only, so a file's share of bad rows barely changes its parse time.
    """
    names = table.column_names
    typed = frame.select(
        *[typed_value(col) for col in table.columns], *[pl.col(c).alias(f"_raw_{c}") for c in names],
        "source_file", "source_line", "_problem", "_line_text",
    )
    flags, reasons = [], []
    for col in table.columns:
        for flag, reason in _rules(col):
            flags.append(flag)
            reasons.append(pl.when(flag).then(reason))
    suspect = typed.select(pl.col("_problem").is_not_null() | pl.any_horizontal(flags)).to_series().arg_true()
    text = pl.Series("_reasons", [None] * 0, dtype=pl.Utf8).extend_constant(None, typed.height)
    if suspect.len():
        found = typed[suspect].select(
            pl.when(pl.col("_problem").is_null()).then(_joined(reasons)).otherwise(pl.col("_problem"))
        ).to_series()
        text = text.scatter(suspect, found)
    return typed.with_columns(text)


def _rules(col) -> list[tuple[pl.Expr, pl.Expr]]:
    """(broken?, reason) per rule of one column, over ``_raw_<name>`` and the typed value."""
    raw = pl.col(f"_raw_{col.name}").str.strip_chars()
    blank = raw.is_null() | (raw == "")
    value = pl.col(col.name)
    rules = []
    if col.required:
        rules.append((blank, pl.lit(f"missing required {col.name}")))
    # Postgres text cannot hold NUL; reject it on every warehouse so both load the same rows.
    rules.append((raw.str.contains("\x00", literal=True).fill_null(False), pl.lit(f"NUL byte in {col.name}")))
    if col.dtype != "str":
        rules.append((~blank & value.is_null(), _value_reason(col, raw, blank, value)))
    if col.nonnegative:
        rules.append(((value < 0).fill_null(False), pl.format(f"negative {col.name}: {{}}", value)))
    if col.allowed:
        rules.append((~blank & ~raw.is_in(list(col.allowed)),
                      pl.format(f"{col.name} must be one of {'/'.join(col.allowed)}, not '{{}}'", raw)))
    return rules


def _joined(reasons: list[pl.Expr]) -> pl.Expr:
    """Every reason that applies, "; "-separated; null when none does. (A string, not a list:
    Polars' concat_list over dozens of columns is ~50x slower than concat_str.)"""
    text = pl.concat_str(reasons, separator="; ", ignore_nulls=True)
    return pl.when(text != "").then(text)


def _add_reasons(reasons: list[pl.Expr]) -> pl.Expr:
    return _joined([pl.col("_reasons"), *reasons]).alias("_reasons")


def check_references(frame: pl.DataFrame, table: TableContract, known: dict[str, pl.Series]) -> pl.DataFrame:
    """Add a reason for every value the referenced master does not know."""
    checks = []
    for col in table.columns:
        if not col.references or col.references not in known:
            continue
        ids = known[col.references]
        checks.append(
            pl.when(pl.col(col.name).is_not_null() & ~pl.col(col.name).is_in(ids.implode())).then(
                pl.format(f"unknown {col.name} '{{}}' (not in {col.references.split('.')[0]})", pl.col(col.name))
            )
        )
    if not checks:
        return frame
    return frame.with_columns(_add_reasons(checks))


def check_duplicates(frame: pl.DataFrame, table: TableContract, first_lines: pl.Series | None = None) -> pl.DataFrame:
    """Within one file a repeated key is an error (the first stays); across files the newer file wins.

    ``first_lines`` (``repeated_key_lines`` per row of ``frame``) may come from more rows than
    ``frame`` holds: a scoped parse finds repeats over the whole file, then types only its rows.
    """
    if first_lines is None:
        first_lines = repeated_key_lines(frame, table.key)
    if first_lines.null_count() == first_lines.len():
        return frame
    key = list(table.key)
    label = pl.concat_str([pl.col(k).cast(pl.Utf8).fill_null("") for k in key], separator="/")
    first_line = pl.col("_first_line")
    reason = pl.when(first_line.is_not_null()).then(
        pl.format(f"duplicate key {'/'.join(key)}={{}} (first on line {{}})", label, first_line)
    )
    with_lines = frame.with_columns(first_lines.alias("_first_line"))
    return with_lines.with_columns(_add_reasons([reason])).drop("_first_line")


def partition_key_expr(table: TableContract) -> pl.Expr:
    if not table.partition_column:
        return pl.lit("all")
    day = pl.col(table.partition_column)
    start = day.dt.truncate("1w") if table.partition_grain == "week" else day.dt.truncate("1mo")
    return pl.when(day.is_null()).then(pl.lit(UNDATED)).otherwise(start.cast(pl.Utf8))


def _in_scope(frame: pl.DataFrame, table: TableContract, scope: PartitionScope) -> tuple[pl.DataFrame, pl.Series]:
    """The scope's rows of one file's frame, and per kept row the line its key first appeared on.

    Typing every column of every row dominated a one-week load, so over the whole file only the
    keys are typed, to find the repeats (a row's first occurrence may lie outside the scope), and
    the partition column's distinct texts (an export repeats few dates) to find the scope's rows.
    """
    day = table.partition_column
    texts = frame.select(pl.col(day).unique())
    days = texts.select(pl.col(day).alias("_text"), typed_value(table.column(day)))
    held = days.filter(scope.holds(partition_key_expr(table)))["_text"]
    keep = frame.select(pl.col(day).is_in(held.implode(), nulls_equal=True)).to_series()
    keys = frame.select(*[typed_value(table.column(k)) for k in table.key], "source_file", "source_line")
    return frame.filter(keep), repeated_key_lines(keys, table.key).filter(keep)


def parse_table(
    erp_dir: Path, table: TableContract, mapping: dict, known: dict[str, pl.Series],
    scope: PartitionScope | None = None,
) -> ParsedTable:
    """Every row of the table's exports, valid or rejected with its reasons.

    With a ``scope``, only its rows are typed and checked where a row outside it can decide the
    fate of one inside it only as the first occurrence of a repeated key (found over the whole
    file): one file, so no newer file replaces rows, whose key columns are all required, so no key
    with a blank part replaces an earlier row. Otherwise every row is; ``ParsedTable.scope`` tells
    which, and the caller filters to its scope either way.
    """
    paths = find_files(erp_dir, table, mapping)
    if not paths:
        if table.optional_table:
            return ParsedTable(table, empty_frame(table), pl.DataFrame(schema=REJECTED_SCHEMA))
        stems = ", ".join(f"{s}*.csv" for s in [table.name, *mapping.get(table.name, {}).get("files", [])])
        raise ErpContractError(f"no export for table {table.name} in {erp_dir} (expected {stems})")
    parts, encodings, ignored = [], {}, {}
    for order, path in enumerate(paths):
        frame, encodings[path.name], ignored_cols = read_export(path, table, mapping)
        if ignored_cols:
            ignored[path.name] = ignored_cols
        parts.append(frame.with_columns(pl.lit(order).alias("_file_order")))
    frame = pl.concat(parts)
    # A newer file replaces the rows of an older one that share a key, and within a file a later row
    # replaces an earlier one sharing a key with a blank part. With one file and no blank key part, a
    # repeated key is rejected below instead and nothing is replaced.
    replaces = len(paths) > 1 or not all(table.column(k).required for k in table.key)
    first_lines = None
    # A window over every partition (a history build) keeps every row: nothing to narrow.
    narrows = scope is not None and not set(scope.all_keys) <= set(scope.keys)
    if narrows and table.partition_column and not replaces:
        frame, first_lines = _in_scope(frame, table, scope)
    else:
        scope = None
    order = frame["_file_order"]
    typed = type_rows(frame, table).with_columns(order.alias("_file_order"))
    typed = check_duplicates(check_references(typed, table, known), table, first_lines)
    typed = typed.with_columns(partition_key_expr(table).alias("_partition_key"))
    bad = typed.filter(pl.col("_reasons").is_not_null())
    # Only what a valid row keeps is copied out (not the raw text of every cell). Rows are in (file,
    # line) order already: the files were concatenated in order, each sorted by line.
    good = typed.select(*table.column_names, "source_file", "source_line", "_partition_key", "_reasons").filter(
        pl.col("_reasons").is_null())
    record_columns = [pl.col("source_file"), pl.col("source_line"), pl.col("_partition_key").alias("partition_key")]
    if replaces:
        newest = pl.struct(list(table.key)).is_last_distinct()
        superseded = good.filter(~newest).select(record_columns)
        good = good.filter(newest)
    else:
        superseded = good.head(0).select(record_columns)
    raw_json = (
        pl.when(pl.col("_problem").is_null())
        .then(pl.struct([pl.col(f"_raw_{c}").alias(c) for c in table.column_names]).struct.json_encode())
        .otherwise(pl.struct(pl.col("_line_text").alias("raw_line")).struct.json_encode())
    )
    rejected = bad.select(
        pl.lit(table.name).alias("source_table"),
        pl.col("source_file").alias("file_name"),
        pl.col("source_line").alias("line_number"),
        raw_json.alias("raw_values"),
        pl.col("_reasons").alias("reason"),
        pl.col("_partition_key").alias("partition_key"),
    )
    valid = good.select(*table.column_names, "source_file", "source_line")
    return ParsedTable(table, valid, rejected, [p.name for p in paths], encodings, ignored,
                       typed.select(record_columns), superseded, scope)
