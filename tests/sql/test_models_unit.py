"""The SQL model layer: discovery, dependencies from ref/source, rendering, ISO-week edges."""

from datetime import date

import dagster as dg
import pytest

from dsop_assets.sql.assets import build_model_asset
from dsop_assets.sql.models import ModelError, discover_models, parse_model
from dsop_resources.settings import sql_dir

MODELS = {m.name: m for m in discover_models(sql_dir())}


def test_every_sql_file_is_a_model_with_dependencies_from_its_refs():
    assert {"calendar_week", "weekly_product_summary", "weekly_customer_summary", "monthly_product_summary",
            "monthly_customer_summary", "stg_daily_order"} <= set(MODELS)
    assert MODELS["weekly_product_summary"].refs == ["stg_daily_order", "stg_daily_production", "stg_daily_revenue"]
    assert MODELS["stg_daily_order"].sources == ["daily_order", "exchange_rate"]
    asset = build_model_asset(MODELS["weekly_product_summary"])
    deps = {k.to_user_string() for k in asset.asset_deps[asset.key]}
    assert deps == {"stg_daily_order", "stg_daily_production", "stg_daily_revenue"}


def test_partition_bounds_render_as_date_literals_only():
    sql = MODELS["weekly_product_summary"].render(date(2024, 12, 30), date(2025, 1, 6))
    assert "date '2024-12-30'" in sql and "date '2025-01-06'" in sql and "{{" not in sql
    with pytest.raises(TypeError):
        MODELS["weekly_product_summary"].render("2024-12-30'; drop table x; --", date(2025, 1, 6))


def test_unknown_template_calls_and_config_are_errors(tmp_path):
    bad = tmp_path / "m.sql"
    bad.write_text("-- x\n-- config: materialised=table\nselect 1")
    with pytest.raises(ModelError, match="unknown config key"):
        parse_model(bad)
    bad.write_text("select * from {{ var('x') }}")
    with pytest.raises(ModelError, match="unknown template call"):
        parse_model(bad).render()


def _orders(days: list[str]):
    import polars as pl

    return pl.DataFrame({
        "order_id": [f"O{i}" for i in range(len(days))],
        "order_date": [date.fromisoformat(d) for d in days],
        "customer_id": ["C1"] * len(days),
        "product_id": ["P1"] * len(days),
        "order_qty": [1.0] * len(days),
        "unit_price": [10.0] * len(days),
        "currency": ["KRW"] * len(days),
        "requested_delivery_date": [date.fromisoformat(d) for d in days],
    })


def test_calendar_week_labels_iso_week_53_and_year_end_weeks(warehouse, instance):
    warehouse.write("daily_order", _orders(["2020-12-31", "2024-12-29", "2025-01-01"]))
    asset = build_model_asset(MODELS["calendar_week"])
    assert dg.materialize([asset], resources={"warehouse": warehouse}, instance=instance).success
    weeks = {r["week_start"].isoformat(): r for r in warehouse.read_table("calendar_week").to_dicts()}
    assert weeks["2020-12-28"]["iso_week_label"] == "2020-W53"
    assert weeks["2021-01-04"]["iso_week_label"] == "2021-W01"
    assert weeks["2024-12-23"]["iso_week_label"] == "2024-W52"
    assert (weeks["2024-12-30"]["iso_year"], weeks["2024-12-30"]["iso_week"]) == (2025, 1)
    assert weeks["2024-12-30"]["week_end"] == date(2025, 1, 5)
    assert weeks["2024-12-30"]["month_start"] == date(2024, 12, 1)
    assert len({w.weekday() for w in warehouse.read_table("calendar_week")["week_start"]}) == 1


def test_weekly_summary_puts_year_end_orders_in_their_iso_week(warehouse, instance):
    import polars as pl

    warehouse.write("daily_order", _orders(["2024-12-29", "2024-12-30", "2025-01-05", "2025-01-06"]))
    warehouse.write("daily_revenue", pl.DataFrame(schema={"invoice_id": pl.Utf8, "revenue_date": pl.Date, "customer_id": pl.Utf8,
                    "product_id": pl.Utf8, "shipped_qty": pl.Float64, "revenue_amount": pl.Float64, "currency": pl.Utf8}))
    warehouse.write("daily_production", pl.DataFrame(schema={"production_date": pl.Date, "product_id": pl.Utf8, "produced_qty": pl.Float64}))
    warehouse.write("product_master", pl.DataFrame({"product_id": ["P1"], "unit_cost": [5.0], "currency": ["KRW"]}))
    warehouse.write("exchange_rate", pl.DataFrame({"rate_date": [date(2025, 1, 1)], "currency": ["USD"], "krw_per_unit": [1400.0]}))
    staging = [build_model_asset(MODELS[n]) for n in ("stg_daily_order", "stg_daily_revenue", "stg_daily_production")]
    dg.materialize(staging, resources={"warehouse": warehouse}, instance=instance)
    weekly = build_model_asset(MODELS["weekly_product_summary"])
    for key in ("2024-12-23", "2024-12-30", "2025-01-06", "2024-12-30"):
        dg.materialize([weekly], partition_key=key, resources={"warehouse": warehouse}, instance=instance)
    rows = warehouse.query("select week_start, iso_year, iso_week, order_qty from weekly_product_summary order by week_start").rows()
    assert rows == [(date(2024, 12, 23), 2024, 52, 1.0), (date(2024, 12, 30), 2025, 1, 2.0), (date(2025, 1, 6), 2025, 2, 1.0)]


def test_a_missing_models_folder_is_an_error_not_fewer_assets(tmp_path):
    from dsop_assets.sql.assets import load_sql_assets

    with pytest.raises(ModelError, match="does not exist"):
        load_sql_assets(tmp_path / "nowhere")
    with pytest.raises(ModelError, match="no .sql models"):
        load_sql_assets(tmp_path)


def test_partitioned_views_and_look_backs_are_declared():
    from dsop_assets.sql.assets import load_sql_assets

    assets = {a.key.to_user_string(): a for a in load_sql_assets()}
    view = assets["stg_daily_order"]
    assert view.partitions_def is not None and view.metadata_by_key[view.key]["materialized"] == "view"
    monthly = assets["monthly_product_summary"]
    mapping = monthly.get_partition_mapping(dg.AssetKey("stg_daily_order"))
    assert isinstance(mapping, dg.TimeWindowPartitionMapping) and mapping.start_offset == -1
    weekly = assets["weekly_product_summary"]
    assert weekly.get_partition_mapping(dg.AssetKey("stg_daily_order")) is None


def test_production_is_valued_in_krw_at_the_production_day_rate(warehouse, instance):
    import polars as pl

    days = [date(2025, 1, 6), date(2025, 1, 7)]
    warehouse.write("daily_production", pl.DataFrame({"production_date": days, "product_id": ["P1", "P2"],
                                                      "produced_qty": [10.0, 3.0]}))
    warehouse.write("product_master", pl.DataFrame({"product_id": ["P1", "P2"], "unit_cost": [5.0, 2_000.0],
                                                    "currency": ["USD", "KRW"]}))
    warehouse.write("exchange_rate", pl.DataFrame({"rate_date": days, "currency": ["USD", "USD"],
                                                   "krw_per_unit": [1_400.0, 1_500.0]}))
    dg.materialize([build_model_asset(MODELS["stg_daily_production"])], resources={"warehouse": warehouse}, instance=instance)
    rows = warehouse.query("select product_id, currency, produced_cost, produced_cost_krw from stg_daily_production "
                           "order by product_id").rows()
    assert rows == [("P1", "USD", 50.0, 70_000.0), ("P2", "KRW", 6_000.0, 6_000.0)]
