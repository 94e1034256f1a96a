"""The weekly report: every section in both languages, self-contained, and honest about missing tables."""

import re
from datetime import date

import dagster as dg
import polars as pl

from dsop_assets.planner.assets import weekly_planning_report
from dsop_assets.planner.build import build_report
from dsop_assets.planner.html import SECTIONS
from tests.planner.conftest import WEEK, materialize


def test_report_asset_writes_both_languages_with_every_section(planner_warehouse, planner_env, instance):
    result = materialize([weekly_planning_report], planner_warehouse, instance, WEEK.isoformat())
    assert result.success
    listed = planner_warehouse.query("select * from weekly_planning_report order by language")
    assert listed["language"].to_list() == ["en", "ko"] and set(listed["iso_week"]) == {"2025-W26"}
    for language, path in zip(listed["language"], listed["file_path"]):
        html = open(path, encoding="utf-8").read()
        assert [m for m in re.findall(r'<section id="(\w+)"', html)] == list(SECTIONS)
        assert f'<html lang="{language}">' in html
        # Self-contained: no script, stylesheet or image is fetched from anywhere.
        assert not re.search(r'(src|href)="(https?:)?//', html) and "<script" not in html
        assert html.count('src="data:image/png;base64,') == 3  # bands, heat map, Gantt
    ko = open(listed.filter(pl.col("language") == "ko")["file_path"][0], encoding="utf-8").read()
    assert "주간 수급 계획 보고서" in ko and "라인별 생산 계획" in ko
    metadata = result.asset_materializations_for_node("weekly_planning_report")[0].metadata
    assert metadata["report_ko"].value.endswith("_ko.html")
    assert metadata["key_plots"].value.count("](data:image/png;base64,") == 2
    assert metadata["contents"].value["risk_products"] > 0


def test_report_marks_late_purchases_and_grade_changes(planner_warehouse, planner_env):
    built = build_report(planner_warehouse, WEEK, planner_env / "r", ("en",))
    purchases = built.data.purchases
    late = purchases.filter(pl.col("order_by_date") < date(2025, 6, 30))
    assert late.height and purchases["late"].sum() == late.height
    html = built.files["en"].read_text()
    assert html.count('<tr class="late">') == min(late.height, 60)
    risk = built.data.risk
    assert risk["previous_grade"].null_count() < risk.height  # last week's grades were found
    changed = risk.filter(pl.col("previous_grade") != pl.col("grade"))
    for product in changed["product_id"]:
        assert product in html


def test_every_section_renders_for_an_empty_week(planner_warehouse, planner_env):
    built = build_report(planner_warehouse, date(2024, 1, 1), planner_env / "r", ("ko", "en"))
    for language, path in built.files.items():
        html = path.read_text(encoding="utf-8")
        assert re.findall(r'<section id="(\w+)"', html) == list(SECTIONS)
        assert html.count("<h2>") == len(SECTIONS)
    assert "No rows for this week." in built.files["en"].read_text()


def test_report_on_an_empty_warehouse(warehouse, tmp_path):
    built = build_report(warehouse, date(2024, 1, 1), tmp_path, ("en",))
    html = built.files["en"].read_text()
    assert re.findall(r'<section id="(\w+)"', html) == list(SECTIONS)
