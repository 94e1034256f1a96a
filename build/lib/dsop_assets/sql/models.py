"""Every ``.sql`` file under ``dbt_like_sql/`` becomes one asset; adding a model is adding a file.

A model says where its rows come from with ``{{ ref('model') }}`` and ``{{ source('group', 'table') }}``;
those calls are its upstream dependencies. A header comment configures it:

    -- Weekly orders, shipments and production per product and ISO week.
    -- config: materialized=table, partitioned_by=week, partition_column=week_start

Partitioned models filter on ``{{ partition_start }}`` / ``{{ partition_end }}``; those render as date
literals from real ``date`` objects, never from raw text, and the warehouse replaces exactly that
window of the table. A model that reads before its window (``{{ partition_start }} - interval '1 month'``)
declares that look-back to Dagster, so the UI shows which upstream partitions each partition needs.

A view can be partitioned too (``materialized=view, partitioned_by=week``): it holds no rows of its
own, but its partitions line up with its sources' and its marts', so a backfill of any range runs
source, view and mart together (Dagster drops a mart whose parents disagree on the partitions).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from dsop_resources.warehouse import date_literal, quote_identifier

_REF = re.compile(r"\{\{\s*ref\(\s*'([a-z0-9_]+)'\s*\)\s*\}\}")
_SOURCE = re.compile(r"\{\{\s*source\(\s*'([a-z0-9_]+)'\s*,\s*'([a-z0-9_]+)'\s*\)\s*\}\}")
_VARIABLE = re.compile(r"\{\{\s*(partition_start|partition_end)\s*\}\}")
_CONFIG = re.compile(r"^--\s*config:\s*(.+)$", re.MULTILINE)
_LOOKBACK = re.compile(r"\{\{\s*partition_start\s*\}\}\s*-\s*interval\s*'(\d+)\s+(day|week|month)s?'")
_DAYS = {"day": 1, "week": 7, "month": 31}
_ALLOWED_CONFIG = {"materialized", "partitioned_by", "partition_column", "group"}


class ModelError(ValueError):
    pass


@dataclass(frozen=True)
class SqlModel:
    name: str
    path: Path
    sql: str
    description: str
    materialized: str  # "table" or "view"
    partitioned_by: str | None  # "week", "month" or None
    partition_column: str | None
    group: str

    @property
    def refs(self) -> list[str]:
        return sorted(set(_REF.findall(self.sql)))

    @property
    def sources(self) -> list[str]:
        return sorted({table for _, table in _SOURCE.findall(self.sql)})

    @property
    def lookback_periods(self) -> int:
        """Whole partitions read before the model's own window (0: it reads only its window)."""
        if not self.partitioned_by:
            return 0
        period = {"week": 7, "month": 28}[self.partitioned_by]
        spans = [(int(n), unit) for n, unit in _LOOKBACK.findall(self.sql)]
        return max((n if unit == self.partitioned_by else -(-n * _DAYS[unit] // period) for n, unit in spans),
                   default=0)

    @property
    def code_version(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:12]

    def render(self, start: date | None = None, end: date | None = None) -> str:
        sql = _REF.sub(lambda m: quote_identifier(m.group(1)), self.sql)
        sql = _SOURCE.sub(lambda m: quote_identifier(m.group(2)), sql)

        def variable(match: re.Match) -> str:
            if start is None or end is None:
                raise ModelError(f"{self.path.name}: {match.group(1)} used but the model is not partitioned")
            return date_literal(start if match.group(1) == "partition_start" else end)

        sql = _VARIABLE.sub(variable, sql)
        if "{{" in sql:
            raise ModelError(f"{self.path.name}: unknown template call near {sql[sql.index('{{'):][:40]!r}")
        return sql.strip().rstrip(";")


def parse_model(path: Path) -> SqlModel:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", path.stem):
        raise ModelError(f"{path}: a model's file name becomes its table name: use lower-case letters, digits and _")
    text = path.read_text(encoding="utf-8")
    config: dict[str, str] = {}
    for line in _CONFIG.findall(text):
        for item in line.split(","):
            key, _, value = item.strip().partition("=")
            if key not in _ALLOWED_CONFIG:
                raise ModelError(f"{path}: unknown config key {key!r} (allowed: {sorted(_ALLOWED_CONFIG)})")
            config[key] = value.strip()
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    description = first[2:].strip() if first.startswith("--") and "config:" not in first else path.stem
    partitioned_by = config.get("partitioned_by") or None
    if partitioned_by not in (None, "week", "month"):
        raise ModelError(f"{path}: partitioned_by must be week or month, not {partitioned_by!r}")
    materialized = config.get("materialized", "table")
    if materialized not in ("table", "view"):
        raise ModelError(f"{path}: materialized must be table or view, not {materialized!r}")
    if partitioned_by and materialized == "table" and not config.get("partition_column"):
        raise ModelError(f"{path}: a partitioned table needs partition_column")
    return SqlModel(
        name=path.stem,
        path=path,
        sql=text,
        description=description,
        materialized=materialized,
        partitioned_by=partitioned_by,
        partition_column=config.get("partition_column"),
        group=config.get("group") or path.parent.name,
    )


def discover_models(sql_dir: Path) -> list[SqlModel]:
    models = [parse_model(p) for p in sorted(sql_dir.rglob("*.sql"))]
    names = [m.name for m in models]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ModelError(f"model names must be unique; repeated: {sorted(duplicates)}")
    return models
