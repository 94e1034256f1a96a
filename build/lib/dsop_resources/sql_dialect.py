"""DuckDB-dialect SQL rewritten for Postgres, keeping DuckDB's result types.

sqlglot does the bulk of the translation. The rewrites below fix the places where its output is
valid Postgres but means something else, or returns a different type than DuckDB would, so the
same model gives the same frame on both warehouses:

* ``strftime`` → ``to_char`` with literal text quoted (sqlglot emits ``'IYYY-WIW'`` for
  ``'%G-W%V'``, and ``W`` is itself a ``to_char`` pattern: week of month).
* ``extract``/``year()``/``week()``/``date_part`` → ``bigint`` (Postgres returns ``numeric``).
* ``date_trunc`` and date ``generate_series``/``range`` → ``timestamp`` (Postgres would pick the
  ``timestamptz`` overload for a ``date`` argument and make the result depend on the session zone).
* ``range(a, b, step)`` keeps its exclusive end for timestamps too (sqlglot writes ``b - 1``).
* ``$name`` parameters → psycopg ``%(name)s``, and every literal ``%`` doubled to survive psycopg.

Models should prefer the table form ``from generate_series(start, stop, interval '1 week') as g(d)``
(inclusive stop, identical on both) and ``cast(... as date)`` where a date is wanted.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import polars as pl
import sqlglot
from sqlglot import exp

# DuckDB returns BIGINT for these; Postgres returns numeric.
_INTEGER_PARTS = {
    "YEAR", "ISOYEAR", "QUARTER", "MONTH", "WEEK", "DAY", "DOW", "ISODOW", "DOY",
    "HOUR", "MINUTE", "DECADE", "CENTURY", "MILLENNIUM",
}
_DOUBLE_PARTS = {"EPOCH"}

_PART_FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.Year: "YEAR",
    exp.Quarter: "QUARTER",
    exp.Month: "MONTH",
    exp.Week: "WEEK",
    exp.WeekOfYear: "WEEK",
    exp.Day: "DAY",
    exp.DayOfMonth: "DAY",
    exp.DayOfWeek: "DOW",
    exp.DayOfWeekIso: "ISODOW",
    exp.DayOfYear: "DOY",
}
_ANONYMOUS_PARTS = {"isoyear": "ISOYEAR", "isodow": "ISODOW", "dayofweek": "DOW"}

# strftime specifier -> to_char pattern. FM drops the zero padding DuckDB's %-x variants omit.
_STRFTIME = {
    "Y": "YYYY", "y": "YY", "m": "MM", "-m": "FMMM", "d": "DD", "-d": "FMDD",
    "H": "HH24", "-H": "FMHH24", "I": "HH12", "-I": "FMHH12", "M": "MI", "-M": "FMMI",
    "S": "SS", "-S": "FMSS", "f": "US", "j": "DDD", "-j": "FMDDD", "G": "IYYY", "V": "IW",
    "u": "ID", "a": "Dy", "A": "FMDay", "b": "Mon", "B": "FMMonth", "p": "AM",
}
_SPECIFIER = re.compile(r"%(-?[A-Za-z%])")
_ESCAPED_PARAM = re.compile(r"%%\((\w+)\)s")


def strftime_to_char(fmt: str) -> str:
    """Translate a DuckDB ``strftime`` format to a Postgres ``to_char`` pattern."""
    out: list[str] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            text = "".join(literal).replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'"{text}"')
            literal.clear()

    pos = 0
    for match in _SPECIFIER.finditer(fmt):
        literal.extend(fmt[pos : match.start()])
        spec = match.group(1)
        if spec == "%":
            literal.append("%")
        elif spec in _STRFTIME:
            flush()
            out.append(_STRFTIME[spec])
        else:
            raise ValueError(f"strftime specifier %{spec} has no Postgres to_char equivalent")
        pos = match.end()
    literal.extend(fmt[pos:])
    flush()
    return "".join(out)


def _part(unit: str, value: exp.Expression) -> exp.Expression:
    extract = exp.Extract(this=exp.var(unit), expression=value)
    if unit in _INTEGER_PARTS:
        return exp.cast(extract, "BIGINT")
    if unit in _DOUBLE_PARTS:
        return exp.cast(extract, "DOUBLE PRECISION")
    return extract


def _as_timestamp(value: exp.Expression) -> exp.Expression:
    if isinstance(value, exp.Cast) and value.to.is_type("timestamp"):
        return value
    return exp.cast(value, "TIMESTAMP")


def _rewrite(tree: exp.Expression) -> exp.Expression:
    # Collect first, replace after: replacing while walking would revisit the wrappers we add.
    for node in list(tree.find_all(exp.TimeToStr)):
        fmt = node.args.get("format")
        if not isinstance(fmt, exp.Literal) or not fmt.is_string:
            raise ValueError("strftime needs a literal format to be translated for Postgres")
        pattern = exp.Literal.string(strftime_to_char(fmt.this))
        node.replace(exp.Anonymous(this="TO_CHAR", expressions=[node.this, pattern]))

    for node in list(tree.find_all(exp.Extract)):
        unit = node.this.name.upper()
        if not isinstance(node.parent, exp.Cast) and unit in _INTEGER_PARTS | _DOUBLE_PARTS:
            node.replace(_part(unit, node.expression))

    for kind, unit in _PART_FUNCTIONS.items():
        for node in list(tree.find_all(kind)):
            if type(node) is kind:
                node.replace(_part(unit, node.this))

    for node in list(tree.find_all(exp.Anonymous)):
        name = str(node.this).lower()
        args = node.expressions
        if name in ("date_part", "datepart") and len(args) == 2 and isinstance(args[0], exp.Literal):
            node.replace(_part(args[0].this.upper(), args[1]))
        elif _ANONYMOUS_PARTS.get(name) and len(args) == 1:
            node.replace(_part(_ANONYMOUS_PARTS[name], args[0]))

    for node in list(tree.find_all(exp.DateFromParts)):
        parts = [node.args["year"], node.args["month"], node.args["day"]]
        node.replace(exp.Anonymous(this="MAKE_DATE", expressions=parts))

    for node in list(tree.find_all(exp.TimestampTrunc, exp.DateTrunc)):
        node.set("this", _as_timestamp(node.this))

    for node in list(tree.find_all(exp.GenerateSeries)):
        step = node.args.get("step")
        if isinstance(step, exp.Interval):
            node.set("start", _as_timestamp(node.args["start"]))
            end = _as_timestamp(node.args["end"])
            if node.args.get("is_end_exclusive"):
                tick = exp.Interval(this=exp.Literal.string("1"), unit=exp.var("MICROSECOND"))
                end = exp.Sub(this=end, expression=tick)
                node.set("is_end_exclusive", False)
            node.set("end", end)

    for node in list(tree.find_all(exp.DataType)):
        if node.this in (exp.DataType.Type.INT128, exp.DataType.Type.UINT128):
            node.replace(exp.DataType.build("NUMERIC"))
    return tree


@lru_cache(maxsize=1024)
def to_postgres(sql: str) -> str:
    """DuckDB SQL (``$name`` parameters) → Postgres SQL ready for psycopg with a params dict."""
    statements = [
        _rewrite(tree).sql(dialect="postgres")
        for tree in sqlglot.parse(sql, read="duckdb")
        if tree is not None
    ]
    text = ";\n".join(statements)
    # psycopg treats every % as a placeholder marker once params are passed; we always pass them.
    return _ESCAPED_PARAM.sub(r"%(\1)s", text.replace("%", "%%"))


# --- column types -----------------------------------------------------------------------------
# Names are what Postgres' format_type() prints, so an existing table's shape compares as text.

def postgres_type(dtype: Any) -> str:
    """Postgres column type for a Polars dtype (only types Polars' CSV writer renders faithfully)."""
    if isinstance(dtype, pl.Datetime):
        return "timestamp with time zone" if dtype.time_zone else "timestamp without time zone"
    if isinstance(dtype, pl.Decimal):
        return f"numeric({dtype.precision},{dtype.scale})" if dtype.precision else "numeric"
    simple = {
        pl.String: "text", pl.Categorical: "text", pl.Enum: "text", pl.Null: "text",
        pl.Date: "date", pl.Time: "time without time zone", pl.Boolean: "boolean",
        pl.Float64: "double precision", pl.Float32: "real", pl.Int128: "numeric",
        pl.Int64: "bigint", pl.UInt64: "bigint", pl.UInt32: "bigint",
        pl.Int32: "integer", pl.UInt16: "integer",
        pl.Int16: "smallint", pl.Int8: "smallint", pl.UInt8: "smallint",
    }
    for kind, name in simple.items():
        if dtype == kind or isinstance(dtype, kind):
            return name
    raise TypeError(f"no Postgres column type for Polars dtype {dtype}; cast the column first")


# Built-in type OIDs -> Polars dtype of the result column. numeric becomes Float64 (DuckDB's
# sum(bigint) is HUGEINT, Postgres' is numeric: models that need integers cast the sum).
_OID_DTYPES = {
    16: "Boolean", 20: "Int64", 21: "Int16", 23: "Int32", 26: "Int64", 700: "Float32",
    701: "Float64", 1700: "Float64", 1082: "Date", 1114: "Datetime", 1184: "DatetimeUTC",
    1083: "Time", 1186: "Duration", 18: "String", 19: "String", 25: "String", 705: "String",
    1042: "String", 1043: "String", 114: "String", 3802: "String", 2950: "String",
}


def polars_dtype(oid: int) -> Any:
    """Polars dtype for a result column's type OID; ``None`` lets Polars infer (arrays, others)."""
    name = _OID_DTYPES.get(oid)
    if name is None:
        return None
    if name == "Datetime":
        return pl.Datetime("us")
    if name == "DatetimeUTC":
        return pl.Datetime("us", "UTC")
    if name == "Duration":
        return pl.Duration("us")
    return getattr(pl, name)
