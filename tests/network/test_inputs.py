from pathlib import Path

import polars as pl
import pytest

from dsop_assets.network.contract import render_markdown
from dsop_assets.network.inputs import NetworkContractError, parse_network_table, read_network
from dsop_assets.network.contract import CITY, SITE


def test_contract_doc_is_generated_from_the_contract():
    doc = Path(__file__).resolve().parents[2] / "docs" / "network_contract.md"
    assert doc.read_text(encoding="utf-8").strip() == render_markdown().strip()


def test_demo_network_loads_without_rejections(tiny_dir):
    inputs = read_network(tiny_dir / "network")
    assert inputs.rejected.height == 0
    assert inputs["network_demand"].height > 0 and inputs["network_site"].height > 0


def test_bad_rows_are_rejected_with_reasons_and_nothing_is_lost(tmp_path):
    (tmp_path / "network_city.csv").write_text(
        "city_id,city_name,country,latitude,longitude\n"
        "C1,Berlin,DEU,52.5,13.4\n"
        'C2,Paris,FRA,"48,86",2.35\n'  # decimal comma: rejected, never read as 4886
        "C3,Lyon,FRA,NaN,4.8\n"
        "C4,Rome,ITA,95.0,12.5\n"
        "C1,Berlin again,DEU,52.5,13.4\n"
        "C5,Madrid,ESP\n"
        "C6,Oslo,NOR,59.9,10.7", encoding="utf-8")  # cut off: no line break after the last line
    valid, rejected = parse_network_table(tmp_path / "network_city.csv", CITY, {})
    assert valid["city_id"].to_list() == ["C1"]
    assert valid.height + rejected.height == 7
    reasons = dict(zip(rejected["line_number"], rejected["reason"]))
    assert "badly grouped thousands in latitude: '48,86'" in reasons[3]
    assert "non-finite number in latitude: 'NaN'" in reasons[4]
    assert "latitude outside -90..90" in reasons[5]
    assert "duplicate key city_id=C1 (first on line 2)" in reasons[6]
    assert "too few fields: 3 (header has 5)" in reasons[7]
    assert reasons[8].startswith("truncated line")
    # The ERP reader's record split, typing and reasons are the ones used (one strict parser).
    assert rejected.filter(pl.col("line_number") == 7)["raw_values"].item() == '{"raw_line":"C5,Madrid,ESP"}'


def test_site_rules_and_references(tmp_path):
    (tmp_path / "network_site.csv").write_text(
        "site_id,city_id,site_type,build_cost_usd,workers,regular_hours_per_week,overtime_hours_per_week,"
        "regular_cost_per_hour,overtime_cost_per_hour,holding_cost_per_unit_day\n"
        "P1,C1,plant,1000,10,400,100,30,45,\n"
        "P2,C1,plant,1000,,400,100,30,45,\n"
        "W1,C9,warehouse,500,,,,,,0.01\n"
        "W2,C1,depot,500,,,,,,0.01\n"
        "W3,C1,warehouse,-5,,,,,,0.01\n", encoding="utf-8")
    valid, rejected = parse_network_table(tmp_path / "network_site.csv", SITE, {"network_city.city_id": pl.Series(["C1"])})
    assert valid["site_id"].to_list() == ["P1"]
    reasons = dict(zip(rejected["line_number"], rejected["reason"]))
    assert reasons[3] == "plant without workers"
    assert "unknown city_id 'C9'" in reasons[4]
    assert "site_type must be one of plant/warehouse, not 'depot'" in reasons[5]
    assert "negative build_cost_usd" in reasons[6]


def test_missing_required_column_names_file_and_column(tmp_path, tiny_dir):
    for f in (tiny_dir / "network").iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "network_sku.csv").write_text("sku_id,sku_name\nS1,x\n", encoding="utf-8")
    with pytest.raises(NetworkContractError, match="network_sku.csv: header lacks required column.*life_days"):
        read_network(tmp_path)
