from datetime import date
from pathlib import Path

import polars as pl
import pytest

from dsop_resources.external import (
    AnalystCsvSource,
    AuthenticationError,
    CustomsSource,
    EcosSource,
    EiaSource,
    ExternalSourceError,
    FredSource,
    ResponseShapeError,
)
from dsop_resources.external.market_csv import parse_market_prices
from tests.external.conftest import FAST, FIXTURES, KEY, Reply, fixture_text

SYNTHETIC = str(FIXTURES / "synthetic")


def fred(api, key=KEY):
    return FredSource(api_key=key, base_url=api.url + "/fred", external_dir=SYNTHETIC, **FAST)


def test_fred_keeps_vintages_and_drops_missing_values(fake_api):
    fake_api.route("/fred/series/observations", Reply(200, fixture_text("fred_indpro_all_releases.xml")))
    frame = fred(fake_api).fetch(["INDPRO"], date(2024, 1, 1))
    query = fake_api.queries("/fred")[0]
    assert query["series_id"] == ["INDPRO"] and query["realtime_start"] == ["2024-01-01"]
    assert query["api_key"] == [KEY]
    assert frame["source"].unique().to_list() == ["api"]
    assert frame.filter(pl.col("observation_date") == date(2023, 11, 1)).is_empty()  # "." is missing
    jan = frame.filter(pl.col("observation_date") == date(2024, 1, 1)).sort("known_at")
    assert jan["value"].to_list() == [102.6, 102.4]
    assert jan["known_at"].to_list() == [date(2024, 2, 15), date(2024, 3, 15)]


def test_fred_bad_key(fake_api):
    fake_api.route("/fred", Reply(400, fixture_text("fred_bad_key.xml")))
    with pytest.raises(AuthenticationError) as caught:
        fred(fake_api).fetch(["INDPRO"], None)
    assert "sEcReT" not in str(caught.value)


def test_fred_malformed_xml(fake_api):
    fake_api.route("/fred", Reply(200, "<observations><observation"))
    with pytest.raises(ExternalSourceError, match="not valid XML"):
        fred(fake_api).fetch(["INDPRO"], None)


def test_missing_key_serves_synthetic_labelled(fake_api):
    for source in (fred(fake_api, key=None), fred(fake_api, key="")):
        assert source.mode() == "synthetic"
        frame = source.fetch(["INDPRO"], None)
        assert frame.height == 3 and frame["source"].unique().to_list() == ["synthetic"]
    assert fake_api.requests == []


def test_eia_pages_by_offset_and_length(fake_api):
    fake_api.route(
        "/v2/petroleum/pri/spt/data",
        lambda path, q: Reply(
            200, fixture_text("eia_rwtc_page1.json" if q["offset"] == ["0"] else "eia_rwtc_page2.json")
        ),
    )
    source = EiaSource(api_key=KEY, base_url=fake_api.url + "/v2", page_size=2, **FAST)
    frame = source.fetch(["RWTC"], date(2024, 3, 1))
    assert frame["value"].to_list() == [79.97, 78.74, 78.15]
    assert frame["known_at"].null_count() == 3
    queries = fake_api.queries()
    assert [q["offset"] for q in queries] == [["0"], ["2"]]
    assert all(q["length"] == ["2"] and q["start"] == ["2024-03-01"] for q in queries)
    assert queries[0]["facets[series][]"] == ["RWTC"]


def test_eia_bad_key_and_changed_shape(fake_api):
    source = EiaSource(api_key=KEY, base_url=fake_api.url + "/v2", **FAST)
    fake_api.route("/v2", Reply(403, fixture_text("eia_bad_key.json")))
    with pytest.raises(AuthenticationError):
        source.fetch(["RWTC"], None)
    fake_api.route("/v2", Reply(200, fixture_text("eia_changed_shape.json")))
    with pytest.raises(ResponseShapeError, match="response"):
        source.fetch(["RWTC"], None)


def ecos(api, **kw):
    return EcosSource(api_key=KEY, base_url=api.url + "/api", page_size=2, **FAST, **kw)


def test_ecos_pages_by_rows(fake_api):
    fake_api.route(
        "/api/StatisticSearch",
        lambda path, q: Reply(
            200,
            fixture_text("ecos_722Y001_page1.json" if "/1/2/" in path else "ecos_722Y001_page2.json"),
        ),
    )
    frame = ecos(fake_api).fetch(["722Y001"], date(2024, 1, 1))
    assert frame["observation_date"].to_list() == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
    assert frame["value"].to_list() == [3.5, 3.5, 3.25]
    first, second = fake_api.paths()
    assert "/json/kr/1/2/722Y001/M/202401/" in first and first.endswith("/0101000")
    assert "/json/kr/3/4/722Y001/M/202401/" in second


def test_ecos_error_envelope_and_no_data(fake_api):
    fake_api.route("/api", Reply(200, fixture_text("ecos_info100.json")))
    with pytest.raises(AuthenticationError, match="INFO-100") as caught:
        ecos(fake_api).fetch(["722Y001"], None)
    assert "sEcReT" not in str(caught.value)
    fake_api.route("/api", Reply(200, fixture_text("ecos_info200.json")))
    assert ecos(fake_api).fetch(["722Y001"], None).is_empty()


def test_ecos_key_never_in_retry_error(fake_api):
    fake_api.route("/api", Reply(503, "down"))
    with pytest.raises(ExternalSourceError) as caught:
        ecos(fake_api).fetch(["722Y001"], None)
    assert "sEcReT" not in str(caught.value) and "StatisticSearch/***/json" in str(caught.value)


def test_ecos_exchange_rates_per_one_unit(fake_api):
    fake_api.route(
        "/api",
        lambda path, q: Reply(
            200,
            fixture_text("ecos_fx_jpy.json")
            if "/0000002" in path
            else fixture_text("ecos_fx_usd.json")
            if "/0000001" in path
            else fixture_text("ecos_info200.json"),
        ),
    )
    frame = ecos(fake_api).fetch_exchange_rates(["USD", "JPY", "EUR"], date(2024, 1, 1))
    usd = frame.filter(pl.col("currency") == "USD")
    assert usd["krw_per_unit"].to_list() == [1310.2, 1312.5]
    assert frame.filter(pl.col("currency") == "JPY")["krw_per_unit"].to_list() == [pytest.approx(9.0512)]
    assert (frame["known_at"] == frame["rate_date"]).all() and frame["source"].unique().to_list() == [
        "api"
    ]


def customs(api, key=KEY):
    return CustomsSource(api_key=key, base_url=api.url + "/1220000", external_dir=SYNTHETIC, **FAST)


def test_customs_sums_detail_rows_per_month(fake_api):
    fake_api.route("/1220000/nitemtrade/getNitemtradeList", Reply(200, fixture_text("customs_8542.xml")))
    frame = customs(fake_api).fetch(["8542"], date(2024, 1, 1))
    jan = frame.filter(pl.col("period_month") == date(2024, 1, 1))
    assert dict(zip(jan["flow"], jan["value_usd"])) == {"export": 11_000_000, "import": 4_800_000}
    query = fake_api.queries()[0]
    assert (
        query["hsSgn"] == ["8542"] and query["strtYymm"] == ["202401"] and query["serviceKey"] == [KEY]
    )


def test_customs_error_envelopes(fake_api):
    fake_api.route("/1220000", Reply(200, fixture_text("customs_bad_key.xml")))
    with pytest.raises(AuthenticationError, match="SERVICE_KEY_IS_NOT_REGISTERED"):
        customs(fake_api).fetch(["8542"], date(2024, 1, 1))
    fake_api.route("/1220000", Reply(200, fixture_text("customs_limit.json")))
    with pytest.raises(ExternalSourceError, match="LIMITED_NUMBER"):
        customs(fake_api).fetch(["8542"], date(2024, 1, 1))


def test_customs_without_key_reads_synthetic(fake_api):
    frame = customs(fake_api, key=None).fetch(["8542"], None)
    assert frame.height == 2 and set(frame["source"]) == {"synthetic"}


def test_market_csv_rejects_bad_rows_and_loads_the_rest():
    result = parse_market_prices(FIXTURES / "market_prices.csv")
    reasons = {r["line"]: r["reason"] for r in result.rejected}
    assert set(reasons) == {6, 7, 8, 9, 10}
    assert "unknown series_id 'GOLD'" in reasons[6]
    assert "not a number" in reasons[7]
    assert "not a date" in reasons[8]
    assert "before observation_date" in reasons[9]
    assert "duplicate" in reasons[10]
    assert all(r["file"] == "market_prices.csv" for r in result.rejected)
    frame = result.frame
    assert frame.height == 4
    sox = frame.filter(pl.col("series_id") == "SOX").sort("observation_date")
    assert sox["value"].to_list() == [4812.5, 4850.1]
    assert sox["source"].to_list() == ["analyst_csv", "bloomberg"]
    assert frame.filter(pl.col("series_id") == "CAIXIN_PMI")["observation_date"].to_list() == [
        date(2024, 2, 1)
    ]


def test_market_source_mode_follows_the_file(tmp_path: Path):
    (tmp_path / "economic_indicator.csv").write_text(fixture_text("synthetic/economic_indicator.csv"))
    source = AnalystCsvSource(external_dir=str(tmp_path))
    assert source.mode() == "synthetic" and source.fetch(["SOX"], None)["source"].to_list() == [
        "synthetic"
    ]
    (tmp_path / "market_prices.csv").write_text("series_id,observation_date\nSOX,2024-01-01\n")
    with pytest.raises(ExternalSourceError, match=r"missing required column\(s\) \['value'\]"):
        source.fetch(["SOX"], None)
