import logging
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from dsop_assets.external import economic_indicator, exchange_rate, trade_statistics
from dsop_resources.external import AnalystCsvSource, CustomsSource, EcosSource, EiaSource, FredSource
from tests.external.conftest import FAST, FIXTURES, KEY, Reply, fixture_text

EMPTY_FRED = '<?xml version="1.0" encoding="utf-8" ?><observations count="0" offset="0" limit="100000"></observations>'
RUN = {"run_date": "2024-04-20", "history_start": "2023-06-01"}


def serve_everything(api):
    api.route(
        "/fred/series/observations",
        lambda p, q: Reply(
            200,
            fixture_text("fred_indpro_all_releases.xml") if q["series_id"] == ["INDPRO"] else EMPTY_FRED,
        ),
    )
    api.route(
        "/v2/petroleum/pri/spt/data",
        lambda p, q: Reply(
            200, fixture_text("eia_rwtc_page1.json" if q["offset"] == ["0"] else "eia_rwtc_page2.json")
        ),
    )
    api.route(
        "/api/StatisticSearch",
        lambda p, q: Reply(
            200,
            fixture_text(
                "ecos_722Y001_page1.json"
                if "/1/2/722Y001/" in p
                else "ecos_722Y001_page2.json"
                if "/3/4/722Y001/" in p
                else "ecos_fx_usd.json"
                if p.endswith("/0000001")
                else "ecos_fx_jpy.json"
                if p.endswith("/0000002")
                else "ecos_info200.json"
            ),
        ),
    )
    api.route("/1220000/nitemtrade", Reply(200, fixture_text("customs_8542.xml")))


def resources(api, warehouse, folder: Path, key: str | None = KEY):
    return {
        "warehouse": warehouse,
        "fred": FredSource(api_key=key, base_url=api.url + "/fred", external_dir=str(folder), **FAST),
        "eia": EiaSource(
            api_key=key, base_url=api.url + "/v2", page_size=2, external_dir=str(folder), **FAST
        ),
        "ecos": EcosSource(
            api_key=key, base_url=api.url + "/api", page_size=2, external_dir=str(folder), **FAST
        ),
        "customs": CustomsSource(
            api_key=key, base_url=api.url + "/1220000", external_dir=str(folder), **FAST
        ),
        "market_csv": AnalystCsvSource(external_dir=str(folder)),
    }


def run(assets, res, config=RUN, raise_on_error=True, instance=None):
    run_config = {"ops": {a.op.name: {"config": config} for a in assets}}
    return dg.materialize(
        assets, resources=res, run_config=run_config, raise_on_error=raise_on_error, instance=instance
    )


def warnings_logged(instance, result) -> list[str]:
    return [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]


def metadata(result, name):
    return {k: v.value for k, v in result.asset_materializations_for_node(name)[0].metadata.items()}


def test_one_failing_source_keeps_its_rows_and_does_not_block_others(fake_api, warehouse, tmp_path):
    serve_everything(fake_api)
    (tmp_path / "market_prices.csv").write_text(fixture_text("market_prices.csv"))
    res = resources(fake_api, warehouse, tmp_path)
    first = metadata(run([economic_indicator], res), "economic_indicator")
    assert first["sources"] == {"fred": "api", "eia": "api", "ecos": "api", "market": "analyst_csv"}
    assert first["failed_sources"] == [] and first["rejected_rows"] == 5
    stored = warehouse.read_table("economic_indicator")
    assert set(stored["provider"]) == {"fred", "eia", "ecos", "market"}
    assert stored.filter(pl.col("series_id") == "INDPRO").height == 3  # two Jan vintages + Feb

    fake_api.route("/api/StatisticSearch", Reply(500, "maintenance"))
    instance = dg.DagsterInstance.ephemeral()
    result = run([economic_indicator], res, instance=instance)
    assert any("ecos failed" in m for m in warnings_logged(instance, result))
    second = metadata(result, "economic_indicator")
    assert second["failed_sources"] == ["ecos"]
    assert "ecos" in second["stale_since"] and "RetriesExhaustedError" in second["errors"]["ecos"]
    assert "sEcReT" not in str(second)
    after = warehouse.read_table("economic_indicator")
    assert after.filter(pl.col("provider") == "ecos").height == 3
    assert after.height == stored.height  # re-run with unchanged data duplicates nothing


def test_incremental_fetch_asks_only_for_the_new_window(fake_api, warehouse, tmp_path):
    serve_everything(fake_api)
    res = resources(fake_api, warehouse, tmp_path)
    run([economic_indicator], res)
    assert {q["realtime_start"][0] for q in fake_api.queries("/fred")} == {"2023-06-01"}
    fake_api.requests.clear()
    run([economic_indicator], res)
    indpro = [q for q in fake_api.queries("/fred") if q["series_id"] == ["INDPRO"]]
    assert indpro[0]["realtime_start"] == ["2023-11-03"]  # Feb 2024 observation minus 90 days
    others = [q for q in fake_api.queries("/fred") if q["series_id"] != ["INDPRO"]]
    assert {q["realtime_start"][0] for q in others} == {"2023-06-01"}  # nothing stored yet
    assert {q["start"][0] for q in fake_api.queries("/v2")} == {"2024-02-20"}  # Mar 5 minus 14 days
    ecos_paths = fake_api.paths("/api/StatisticSearch")
    assert all("/M/202312/" in p for p in ecos_paths if "/722Y001/" in p)  # Mar 2024 minus 90 days
    assert all("/M/202306/" in p for p in ecos_paths if "/901Y009/" in p)


def test_every_source_failing_with_nothing_stored_fails_the_run(fake_api, warehouse, tmp_path):
    fake_api.route("/", Reply(503, "down"))
    result = run([economic_indicator], resources(fake_api, warehouse, tmp_path), raise_on_error=False)
    assert not result.success


def test_without_keys_every_table_is_synthetic_and_says_so(fake_api, warehouse):
    res = resources(fake_api, warehouse, FIXTURES / "synthetic", key=None)
    result = run([economic_indicator, exchange_rate, trade_statistics], res)
    assert fake_api.requests == []
    assert set(metadata(result, "economic_indicator")["sources"].values()) == {"synthetic"}
    assert metadata(result, "exchange_rate")["sources"] == {"ecos": "synthetic"}
    indicators = warehouse.read_table("economic_indicator")
    assert set(indicators["source"]) == {"synthetic"} and indicators.height == 7
    fx = warehouse.read_table("exchange_rate").filter(pl.col("currency") == "USD").sort("rate_date")
    assert fx["rate_date"].to_list() == [date(2024, 1, d) for d in range(4, 9)]
    assert fx["is_filled"].to_list() == [False, False, True, True, False]
    assert set(warehouse.read_table("trade_statistics")["source"]) == {"synthetic"}


def test_nothing_set_up_leaves_empty_tables_and_says_so(fake_api, warehouse, tmp_path):
    # No key and no file in the external folder: an ERP-only deployment. The run succeeds with empty
    # tables (the forecasts run on the ERP data alone) and a warning; a source that is set up and fails
    # still fails the run (test_every_source_failing_with_nothing_stored_fails_the_run).
    res = resources(fake_api, warehouse, tmp_path, key=None)
    instance = dg.DagsterInstance.ephemeral()
    result = run([economic_indicator, exchange_rate, trade_statistics], res, instance=instance)
    assert fake_api.requests == []
    for table in ("economic_indicator", "exchange_rate", "trade_statistics"):
        assert warehouse.table_exists(table) and warehouse.read_table(table).height == 0
        assert metadata(result, table)["dagster/row_count"] == 0
    assert metadata(result, "economic_indicator")["not_configured_sources"] == ["ecos", "eia", "fred", "market"]
    assert metadata(result, "exchange_rate")["not_configured_sources"] == ["ecos"]
    said = warnings_logged(instance, result)
    assert sum("no source is set up" in m for m in said) == 3
    # Then the files arrive: the next run loads them.
    for name in ("economic_indicator.csv", "exchange_rate.csv", "trade_statistics.csv"):
        (tmp_path / name).write_text((FIXTURES / "synthetic" / name).read_text())
    run([economic_indicator, exchange_rate, trade_statistics], res)
    assert warehouse.read_table("economic_indicator").height == 7


def test_fx_and_trade_from_apis_then_a_failure_keeps_stale_rows(fake_api, warehouse, tmp_path):
    serve_everything(fake_api)
    res = resources(fake_api, warehouse, tmp_path)
    run([exchange_rate, trade_statistics], res)
    fx = warehouse.read_table("exchange_rate")
    usd = fx.filter(pl.col("currency") == "USD").sort("rate_date")
    assert usd["rate_date"].max() == date(2024, 4, 20)  # filled through the run date
    assert usd.filter(pl.col("rate_date") == date(2024, 1, 6))["krw_per_unit"].to_list() == [1310.2]
    jpy = fx.filter((pl.col("currency") == "JPY") & ~pl.col("is_filled"))
    assert jpy["krw_per_unit"].to_list()[0] < 10  # per one yen, not per 100
    trade = warehouse.read_table("trade_statistics")
    assert trade.filter(
        (pl.col("period_month") == date(2024, 1, 1))
        & (pl.col("flow") == "export")
        & (pl.col("hs_code") == "8542")
    )["value_usd"].to_list() == [11e6]
    assert trade["known_at"].min() == date(2024, 2, 15)

    fake_api.route("/api", Reply(200, fixture_text("ecos_info100.json")))
    fake_api.route("/1220000", Reply(200, fixture_text("customs_bad_key.xml")))
    result = run([exchange_rate, trade_statistics], res)
    assert metadata(result, "exchange_rate")["failed_sources"] == ["ecos"]
    assert metadata(result, "trade_statistics")["failed_sources"] == ["customs"]
    assert warehouse.read_table("exchange_rate").height == fx.height
    assert warehouse.read_table("trade_statistics").height == trade.height
