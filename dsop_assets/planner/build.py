"""Build one week's report files and the week's alerts (plain functions; the assets wrap them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from dsop_assets.partitions import iso_week_label
from dsop_assets.planner import charts
from dsop_assets.planner.alerts import SCHEMA as ALERT_SCHEMA
from dsop_assets.planner.alerts import action_alerts, anomaly_alerts, customer_alerts
from dsop_assets.planner.gather import HEATMAP_PRODUCTS, RISK_TYPES, WeekData, gather
from dsop_assets.planner.html import SECTIONS, render
from dsop_assets.planner.sources import read_optional
from dsop_resources import Warehouse


@dataclass
class BuiltReport:
    week: date
    files: dict[str, Path]  # language -> file
    images: dict[str, bytes | None]
    data: WeekData
    alerts: pl.DataFrame


def week_alerts(warehouse: Warehouse, week: date) -> pl.DataFrame:
    parts = [pl.DataFrame(schema=ALERT_SCHEMA)]
    if warehouse.table_exists("action_queue") and warehouse.table_exists("risk_score"):
        actions = warehouse.query("select * from action_queue where week_start = $w", {"w": week})
        risk = warehouse.query("select * from risk_score where week_start = $w", {"w": week})
        if actions.height:
            parts.append(action_alerts(actions, risk))
    parts.append(customer_alerts(read_optional(warehouse, "customer_demand_alert", (week, week)).frame))
    parts.append(anomaly_alerts(read_optional(warehouse, "demand_anomaly", (week, week)).frame))
    return pl.concat(parts, how="vertical_relaxed").unique("alert_id", keep="first", maintain_order=True)


def report_name(week: date, language: str) -> str:
    return f"weekly_planning_report_{iso_week_label(week)}_{language}.html"


def build_report(warehouse: Warehouse, week: date, out_dir: Path, languages: tuple[str, ...]) -> BuiltReport:
    data = gather(warehouse, week)
    images = {
        "forecast": charts.bands_chart(data.bands, week),
        "risk": charts.risk_heatmap(data.risk.head(HEATMAP_PRODUCTS), RISK_TYPES),
        "production": charts.gantt(data.plan, data.lines),
    }
    alerts = week_alerts(warehouse, week)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for language in languages:
        other = next((report_name(week, x) for x in languages if x != language), None)
        path = out_dir / report_name(week, language)
        staging = path.with_suffix(".html.tmp")
        staging.write_text(render(data, images, alerts, language, other), encoding="utf-8")
        staging.replace(path)  # a reader never opens half a file
        files[language] = path
    return BuiltReport(week, files, images, data, alerts)


def section_counts(report: BuiltReport) -> dict[str, int]:
    d = report.data
    return {"forecast_series": len(d.bands), "risk_products": d.risk.height, "actions": d.actions.height,
            "plan_rows": d.plan.height, "purchases": d.purchases.height, "alerts": report.alerts.height,
            "sections": len(SECTIONS)}
