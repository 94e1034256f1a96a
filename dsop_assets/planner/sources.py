"""Tables other branches are adding, read through one adapter so the report never breaks on them.

``customer_demand_alert``, ``demand_anomaly``, ``customer_churn_risk`` and ``decision_replay`` are
being built in parallel. Each entry below names the columns the report uses and, for each, the
column names it may have in the finished table (first one present wins). When a table or a
required column is absent, ``read_optional`` returns an empty frame with the canonical schema and
``available=False``, and the report shows the section with a "not available yet" note. Wiring the
final names at merge time means editing only ``OPTIONAL_TABLES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from dsop_resources import Warehouse
from dsop_resources.warehouse import quote_identifier


@dataclass(frozen=True)
class OptionalTable:
    table: str
    week_column: tuple[str, ...]  # candidates for the ISO-week (Monday) column
    columns: dict[str, tuple[tuple[str, ...], pl.DataType]]  # canonical -> (candidates, dtype)
    required: tuple[str, ...]


def _c(*names: str) -> tuple[str, ...]:
    return names


OPTIONAL_TABLES: dict[str, OptionalTable] = {
    "customer_demand_alert": OptionalTable(
        "customer_demand_alert", _c("week_start", "origin_date", "alert_week"),
        {
            "customer_id": (_c("customer_id"), pl.String),
            "product_id": (_c("product_id"), pl.String),
            "message_ko": (_c("message_ko", "message_kr"), pl.String),
            "message_en": (_c("message_en", "message"), pl.String),
            "change_pct": (_c("expected_change_pct", "change_pct", "expected_change"), pl.Float64),
            "p10": (_c("p10", "change_p10", "p10_qty"), pl.Float64),
            "p90": (_c("p90", "change_p90", "p90_qty"), pl.Float64),
        },
        required=("customer_id", "message_en"),
    ),
    "demand_anomaly": OptionalTable(
        "demand_anomaly", _c("week_start", "anomaly_week"),
        {
            "product_id": (_c("product_id", "series_id"), pl.String),
            "customer_id": (_c("customer_id"), pl.String),
            "message_ko": (_c("message_ko", "message_kr"), pl.String),
            "message_en": (_c("message_en", "message"), pl.String),
            "score": (_c("anomaly_score", "score", "z_score"), pl.Float64),
        },
        required=("message_en",),
    ),
    "customer_churn_risk": OptionalTable(
        "customer_churn_risk", _c("week_start", "as_of_week", "month_start"),
        {
            "customer_id": (_c("customer_id"), pl.String),
            "churn_probability": (_c("churn_probability", "churn_risk", "probability"), pl.Float64),
            "message_ko": (_c("message_ko", "message_kr"), pl.String),
            "message_en": (_c("message_en", "message", "reason"), pl.String),
        },
        required=("customer_id",),
    ),
    "decision_replay": OptionalTable(
        "decision_replay", _c("week_start", "plan_week"),
        {
            "policy": (_c("policy", "policy_id"), pl.String),
            "fill_rate": (_c("fill_rate",), pl.Float64),
            "stock_value": (_c("stock_value", "stock_value_krw", "avg_stock_value"), pl.Float64),
            "cost": (_c("cost", "total_cost", "cost_krw"), pl.Float64),
        },
        required=("fill_rate",),
    ),
}
# The policy whose replay is dsop's own plan (the others are the simple rules it is compared with).
DSOP_POLICY_NAMES = ("dsop", "dsop_plan", "optimised", "optimized", "plan")


@dataclass
class OptionalFrame:
    frame: pl.DataFrame
    available: bool
    note: str = ""


def empty_frame(name: str) -> pl.DataFrame:
    spec = OPTIONAL_TABLES[name]
    return pl.DataFrame(schema={"week_start": pl.Date, **{c: t for c, (_, t) in spec.columns.items()}})


def read_optional(warehouse: Warehouse, name: str, weeks: tuple[date, date] | None = None) -> OptionalFrame:
    """Rows of an optional table in canonical columns; weeks = [first, last] Mondays, inclusive."""
    spec = OPTIONAL_TABLES[name]
    if not warehouse.table_exists(spec.table):
        return OptionalFrame(empty_frame(name), False, f"{spec.table}: not available yet (table absent)")
    present = set(warehouse.columns(spec.table))
    week = next((c for c in spec.week_column if c in present), None)
    chosen = {canon: next((c for c in cands if c in present), None) for canon, (cands, _) in spec.columns.items()}
    missing = [c for c in spec.required if chosen[c] is None] + ([] if week else ["week column"])
    if missing:
        return OptionalFrame(empty_frame(name), False,
                             f"{spec.table}: not available yet (no column for {', '.join(missing)})")
    where = ""
    params: dict = {}
    if weeks is not None:
        where = f" where {quote_identifier(week)} >= $lo and {quote_identifier(week)} <= $hi"
        params = {"lo": weeks[0], "hi": weeks[1]}
    select = ", ".join([f"cast({quote_identifier(week)} as date) as week_start"]
                       + [f"{quote_identifier(src)} as {quote_identifier(canon)}" for canon, src in chosen.items() if src])
    frame = warehouse.query(f"select {select} from {quote_identifier(spec.table)}{where}", params)
    frame = frame.with_columns(
        [pl.lit(None).alias(canon) for canon, src in chosen.items() if src is None]
    ).with_columns(
        [pl.col(canon).cast(dtype, strict=False) for canon, (_, dtype) in spec.columns.items()]
    ).select(empty_frame(name).columns)
    return OptionalFrame(frame, True)


def dsop_policy(replay: pl.DataFrame) -> pl.DataFrame:
    """The replay rows of dsop's own policy (all rows when the policy column says nothing)."""
    if replay.is_empty() or replay["policy"].null_count() == replay.height:
        return replay
    names = replay["policy"].str.to_lowercase()
    mine = replay.filter(names.is_in(list(DSOP_POLICY_NAMES)) | names.str.starts_with("dsop"))
    return mine
