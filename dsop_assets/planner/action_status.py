"""Planners' follow-up of the action queue: an append-only log of status updates (``action_status``).

The log is a source table of its own: the derived ``action_queue`` is rebuilt from risk every week
and never writes here, so nothing a planner records can be overwritten by a re-run. Two ways in,
one validation: the ``dsop action`` command and ``action_status*.csv`` files dropped in a folder
(picked up by a sensor). Each update's id is a hash of its content, so loading a file twice, or
recording the same update twice, stores it once.

Statuses: ``done``; ``dismissed`` (a reason is required); ``snoozed`` (until a date, required;
the action is open again from that day); ``in_progress``; ``open`` (reopen).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl

TABLE = "action_status"
REJECTED_TABLE = "action_status_rejected"
STATUSES = ("done", "dismissed", "snoozed", "in_progress", "open")
ACTED = ("done", "dismissed", "snoozed", "in_progress")
CSV_COLUMNS = ("action_id", "status", "reason", "snoozed_until", "recorded_by", "recorded_at")
REQUIRED_CSV_COLUMNS = ("action_id", "status")
SCHEMA = {
    "update_id": pl.String, "action_id": pl.String, "status": pl.String, "reason": pl.String,
    "snoozed_until": pl.Date, "recorded_by": pl.String, "recorded_at": pl.Datetime("us"),
    "source": pl.String, "source_file": pl.String, "source_line": pl.Int64,
}  # fmt: skip
REJECTED_SCHEMA = {"source_file": pl.String, "source_line": pl.Int64, "raw": pl.String, "reason": pl.String}
_ACTION_ID = re.compile(r"^[0-9a-f]{16}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")


class ActionStatusError(ValueError):
    """A status update that cannot be recorded, with the reason."""


@dataclass(frozen=True)
class StatusUpdate:
    action_id: str
    status: str
    recorded_at: datetime
    reason: str | None = None
    snoozed_until: date | None = None
    recorded_by: str | None = None


def update_id(u: StatusUpdate) -> str:
    text = "|".join([u.action_id, u.status, u.recorded_at.isoformat(), u.reason or "",
                     u.snoozed_until.isoformat() if u.snoozed_until else ""])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def problems(u: StatusUpdate, known_actions: set[str] | None) -> list[str]:
    """Every rule the update breaks (empty: it may be recorded)."""
    found = []
    if not _ACTION_ID.match(u.action_id or ""):
        found.append(f"action_id {u.action_id!r} is not 16 lower-case hex digits")
    elif known_actions is not None and u.action_id not in known_actions:
        found.append(f"action_id {u.action_id} is not in action_queue")
    if u.status not in STATUSES:
        found.append(f"status {u.status!r} is not one of {', '.join(STATUSES)}")
    if u.status == "dismissed" and not (u.reason or "").strip():
        found.append("dismissed needs a reason")
    if u.status == "snoozed" and u.snoozed_until is None:
        found.append("snoozed needs snoozed_until (YYYY-MM-DD)")
    if u.status == "snoozed" and u.snoozed_until is not None and u.snoozed_until <= u.recorded_at.date():
        found.append(f"snoozed_until {u.snoozed_until} is not after the update ({u.recorded_at.date()})")
    return found


def to_frame(updates: list[StatusUpdate], source: str, source_file: str | None = None,
             lines: list[int | None] | None = None) -> pl.DataFrame:
    lines = lines or [None] * len(updates)
    return pl.DataFrame(
        [{"update_id": update_id(u), "action_id": u.action_id, "status": u.status, "reason": u.reason,
          "snoozed_until": u.snoozed_until, "recorded_by": u.recorded_by, "recorded_at": u.recorded_at,
          "source": source, "source_file": source_file, "source_line": line}
         for u, line in zip(updates, lines)],
        schema=SCHEMA,
    )


def append_updates(warehouse, frame: pl.DataFrame) -> int:
    """Add updates that are not stored yet with plain inserts: the Postgres manager role may insert
    into the log but not delete from it, so this path never issues a delete."""
    if not warehouse.table_exists(TABLE):
        return warehouse.write(TABLE, frame)  # the very first update creates the log
    columns = list(SCHEMA)
    casts = {"snoozed_until": "date", "recorded_at": "timestamp", "source_line": "bigint"}
    values = ", ".join(f"cast(${c} as {casts.get(c, 'varchar')})" for c in columns)
    sql = (f"insert into {TABLE} ({', '.join(columns)}) select {values} "
           f"where not exists (select 1 from {TABLE} where update_id = $update_id)")
    for row in frame.iter_rows(named=True):
        warehouse.execute(sql, row)
    return frame.height


def parse_csv(path: Path, known_actions: set[str] | None, default_time: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(valid updates, rejected rows) of one drop file; every data line lands in exactly one.

    ``recorded_at`` may be left empty: the file's modification time stands in (a fact about the
    file, so re-reading it gives the same update). Values are taken exactly as written: a date
    that is not ``YYYY-MM-DD`` is rejected, not guessed.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ActionStatusError(f"{path.name}: not UTF-8 ({error})") from error
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in header]
    if missing:
        raise ActionStatusError(f"{path.name}: header lacks column(s) {', '.join(missing)}; "
                                f"expected {', '.join(CSV_COLUMNS)}")
    good, good_lines, rejected, seen = [], [], [], set()
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue  # blank line
        row = dict(zip(header, fields))
        if len(fields) != len(header):
            rejected.append({"source_file": path.name, "source_line": line, "raw": ",".join(fields),
                             "reason": f"{len(fields)} fields, the header has {len(header)}"})
            continue
        value = {c: (row.get(c) or "").strip() for c in CSV_COLUMNS}
        reasons = []
        until = _parse(value["snoozed_until"], _DATE, "snoozed_until", reasons, date.fromisoformat)
        at = _parse(value["recorded_at"], _TIMESTAMP, "recorded_at", reasons, datetime.fromisoformat) or default_time
        update = StatusUpdate(value["action_id"], value["status"], at, value["reason"] or None, until,
                              value["recorded_by"] or None)
        reasons += problems(update, known_actions)
        if not reasons and update_id(update) in seen:
            reasons.append("duplicate of an earlier line in the file")
        if reasons:
            rejected.append({"source_file": path.name, "source_line": line,
                             "raw": ",".join(fields), "reason": "; ".join(reasons)})
            continue
        seen.add(update_id(update))
        good.append(update)
        good_lines.append(line)
    return to_frame(good, "csv", path.name, good_lines), pl.DataFrame(rejected, schema=REJECTED_SCHEMA)


def _parse(text: str, pattern: re.Pattern, name: str, reasons: list[str], parse):
    if not text:
        return None
    if not pattern.match(text):
        reasons.append(f"{name} {text!r} is not ISO (YYYY-MM-DD{' HH:MM' if name == 'recorded_at' else ''})")
        return None
    try:
        return parse(text)
    except ValueError as error:
        reasons.append(f"{name} {text!r}: {error}")
        return None


def current_status(updates: pl.DataFrame, on: date | None = None) -> pl.DataFrame:
    """Latest update per action known by the end of ``on`` (all when None): action_id, status,
    reason, snoozed_until, first_acted_at. A snooze that ran out by ``on`` reads as open."""
    if updates.is_empty():
        return pl.DataFrame(schema={"action_id": pl.String, "status": pl.String, "reason": pl.String,
                                    "snoozed_until": pl.Date, "first_acted_at": pl.Datetime("us")})
    if on is not None:
        updates = updates.filter(pl.col("recorded_at").cast(pl.Date) <= on)
    first_acted = updates.filter(pl.col("status").is_in(ACTED)).group_by("action_id").agg(
        pl.col("recorded_at").min().alias("first_acted_at"))
    latest = updates.sort("recorded_at", "update_id").group_by("action_id", maintain_order=True).last()
    expired = (pl.col("status") == "snoozed") & (on is not None) & (pl.col("snoozed_until") <= (on or date.max))
    return latest.with_columns(pl.when(expired).then(pl.lit("open")).otherwise("status").alias("status")).join(
        first_acted, on="action_id", how="left").select("action_id", "status", "reason", "snoozed_until", "first_acted_at")
