"""API keys reach the APIs and nothing else: no event, metadata value, run record, captured output
or instance file of a run that used them may contain them, whether the call succeeded or was refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from dsop_assets.external import external_assets
from dsop_resources import DuckDBWarehouse
from dsop_resources.external import (
    KEY_VARIABLES,
    AnalystCsvSource,
    CustomsSource,
    EcosSource,
    EiaSource,
    FredSource,
    external_resources,
)
from tests.external.conftest import FAST, Reply, fake_api, fixture_text  # noqa: F401 - the local stand-in for the APIs
from tests.external.test_assets import RUN, serve_everything

# Each key carries a token unique to it, so every spelling (raw, %-encoded, +-encoded) is caught by
# looking for the token; "+" and "/" make the encoded spellings differ from the raw one.
TOKENS = {"FRED_API_KEY": "FredTok7q", "EIA_API_KEY": "EiaTok8w", "ECOS_API_KEY": "EcosTok9e",
          "CUSTOMS_API_KEY": "CustomsTok3r"}
KEYS = {variable: f"{token}+x/y=z" for variable, token in TOKENS.items()}
KEYS["ECOS_API_KEY"] = "EcosTok9e+xyz"  # ECOS puts the key in the URL path, where "/" would split it


def _spellings() -> set[str]:
    found = set(TOKENS.values())
    for key in KEYS.values():
        found |= {key, quote(key, safe=""), quote(key), quote_plus(key)}
    return found


@pytest.fixture
def keyed_env(monkeypatch):
    for variable, value in KEYS.items():
        monkeypatch.setenv(variable, value)


def test_the_factory_passes_keys_by_name_not_value(keyed_env):
    # What _resources below mirrors: Definitions hold the variable's name, Dagster reads it at launch.
    for source, variable in KEY_VARIABLES.items():
        key = external_resources()[source].api_key
        assert isinstance(key, dg.EnvVar) and key == variable


def _resources(api, warehouse, folder: Path) -> dict[str, object]:
    # Keys through dg.EnvVar as external_resources() gives them, so Dagster resolves them at launch.
    return {
        "warehouse": warehouse,
        "fred": FredSource(api_key=dg.EnvVar("FRED_API_KEY"), base_url=api.url + "/fred",
                           external_dir=str(folder), **FAST),
        "eia": EiaSource(api_key=dg.EnvVar("EIA_API_KEY"), base_url=api.url + "/v2", page_size=2,
                         external_dir=str(folder), **FAST),
        "ecos": EcosSource(api_key=dg.EnvVar("ECOS_API_KEY"), base_url=api.url + "/api", page_size=2,
                           external_dir=str(folder), **FAST),
        "customs": CustomsSource(api_key=dg.EnvVar("CUSTOMS_API_KEY"), base_url=api.url + "/1220000",
                                 external_dir=str(folder), **FAST),
        "market_csv": AnalystCsvSource(external_dir=str(folder)),
    }


def _materialise(api, tmp_path, raise_on_error=True):
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(tempdir=str(home)) as instance:
        result = dg.materialize(
            external_assets,
            resources=_resources(api, DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb")), tmp_path),
            run_config={"ops": {a.op.name: {"config": RUN} for a in external_assets}},
            instance=instance,
            raise_on_error=raise_on_error,
        )
        texts = _run_texts(instance, result)
    return result, texts, home


def _run_texts(instance: dg.DagsterInstance, result) -> dict[str, str]:
    """Everything a run leaves in the instance, as text: events, their payloads, the run record."""
    texts = {}
    for i, entry in enumerate(instance.all_logs(result.run_id)):
        texts[f"event {i} message"] = entry.user_message or ""
        texts[f"event {i} serialised"] = serialize_value(entry)
        if entry.dagster_event is not None:
            texts[f"event {i} payload"] = repr(entry.dagster_event.event_specific_data)
    for node in {a.op.name for a in external_assets}:
        for materialisation in result.asset_materializations_for_node(node):
            for name, value in materialisation.metadata.items():
                texts[f"{node} metadata {name}"] = json.dumps(value.value, default=str)
    run = instance.get_run_by_id(result.run_id)
    texts["run record"] = serialize_value(run)
    texts["run config"] = json.dumps(run.run_config, default=str)
    return texts


def _leaks(texts: dict[str, str]) -> list[str]:
    return [f"{where}: {spelling!r}" for where, text in texts.items() for spelling in _spellings() if spelling in text]


def _file_leaks(home: Path) -> list[str]:
    """Every file of the instance (sqlite storages, compute logs), read as bytes."""
    leaks = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaks += [f"{path}: {s!r}" for s in _spellings() if s.encode() in data]
    return leaks


def test_keys_reach_the_apis_but_no_event_metadata_or_output(fake_api, keyed_env, tmp_path, capfd):
    serve_everything(fake_api)
    (tmp_path / "market_prices.csv").write_text(fixture_text("market_prices.csv"))
    result, texts, home = _materialise(fake_api, tmp_path)
    assert result.success
    requests = json.dumps(fake_api.requests)
    assert all(quote_plus(KEYS[v]) in requests or KEYS[v] in requests for v in ("FRED_API_KEY", "EIA_API_KEY",
                                                                                  "CUSTOMS_API_KEY"))
    assert any(KEYS["ECOS_API_KEY"] in path for path in fake_api.paths("/api"))
    sources = json.loads(texts["economic_indicator metadata sources"])
    assert sources == {"fred": "api", "eia": "api", "ecos": "api", "market": "analyst_csv"}
    assert len(texts) > 20  # the scan really saw the run's events
    captured = capfd.readouterr()
    assert not _leaks(texts | {"stdout": captured.out, "stderr": captured.err}) + _file_leaks(home)


def test_a_refused_key_yields_errors_without_the_key(fake_api, keyed_env, tmp_path, capfd):
    fake_api.route("/", Reply(401, "Unauthorized"))
    result, texts, home = _materialise(fake_api, tmp_path, raise_on_error=False)
    assert not result.success
    assert fake_api.requests, "the sources must have called the API"
    errors = " ".join(t for k, t in texts.items() if k.endswith("message"))
    assert "rejected the key (HTTP 401)" in errors  # the failure says why...
    captured = capfd.readouterr()
    assert not _leaks(texts | {"stdout": captured.out, "stderr": captured.err}) + _file_leaks(home)  # ...not what
