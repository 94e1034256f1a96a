"""Checks on the plan's side tables, read back from the warehouse after the plan run wrote them.

``production_plan_line``: no line-week uses more hours than it has (regular + overtime).
``production_plan_diagnosis``: every plan week either has its plan stored, or was refused and has
diagnosis rows; a week with neither would be a refusal nobody hears of. Every diagnosis row carries its
reason (message and basis), also the rows a usable plan may write (e.g. firm orders planned late).
"""

from __future__ import annotations

from datetime import date

import polars as pl

LINE_CAPACITY_CHECK = "production_plan_line_within_capacity"
DIAGNOSIS_CHECK = "production_plan_diagnosis_explains_refusals"
# Solver feasibility tolerances (~1e-6 on quantities) add up over a line's products: a hundredth of an hour.
HOURS_TOLERANCE = 1e-2


def lines_over_capacity(lines: pl.DataFrame) -> pl.DataFrame:
    """Line-weeks whose used hours exceed capacity, or with negative hours."""
    if lines.is_empty():
        return lines
    used = pl.col("regular_hours_used") + pl.col("overtime_hours")
    return lines.with_columns(used.alias("used_hours")).filter(
        (pl.col("used_hours") > pl.col("capacity_hours") + HOURS_TOLERANCE)
        | (pl.col("regular_hours_used") < -HOURS_TOLERANCE) | (pl.col("overtime_hours") < -HOURS_TOLERANCE)
    ).select("plan_week", "line_id", "week_start", "used_hours", "capacity_hours")


def unexplained_weeks(usable: dict[date, bool], plan_rows: dict[date, int], diagnosis: pl.DataFrame) -> dict[str, str]:
    """Plan week -> what is wrong with its record, for the weeks of one run (``usable``: plan made)."""
    problems = {}
    for week, made in usable.items():
        rows = diagnosis.filter(pl.col("plan_week") == week) if diagnosis.height else diagnosis
        if made and not plan_rows.get(week):
            problems[str(week)] = "plan made but no plan rows stored"
        elif not made and not rows.height:
            problems[str(week)] = "plan refused without a diagnosis row"
        elif rows.height and (rows["message"].is_null().any() or rows["basis"].is_null().any()):
            problems[str(week)] = "diagnosis row without a reason (message/basis null)"
    return problems
