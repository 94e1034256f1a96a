"""deploy/*.yaml are valid instances; the Postgres one records runs in Postgres."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg
import yaml
from dagster._core.instance.config import dagster_instance_config
from psycopg.conninfo import conninfo_to_dict

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_sqlite_yaml_queues_warehouse_writers(tmp_path) -> None:
    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["pools"]["default_limit"] == 1


def test_postgres_yaml_records_runs(tmp_path, monkeypatch, pg_url, pg_schema) -> None:
    info = conninfo_to_dict(pg_url)
    monkeypatch.setenv("DAGSTER_PG_HOST", str(info.get("host", "127.0.0.1")))
    monkeypatch.setenv("DAGSTER_PG_PORT", str(info.get("port", 5432)))
    monkeypatch.setenv("DAGSTER_PG_USER", str(info["user"]))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", str(info.get("password", "")))
    monkeypatch.setenv("DAGSTER_PG_DB", str(info.get("dbname", "test")))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    # The CI database is shared: keep Dagster's tables in this test's own schema.
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f'create schema "{pg_schema}"')
    config = yaml.safe_load((DEPLOY / "dagster_postgres.yaml").read_text())
    config["storage"]["custom"]["config"]["postgres_db"]["params"] = {"options": f"-c search_path={pg_schema}"}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))

    @dg.asset
    def tiny() -> int:
        return 1

    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = dg.materialize([tiny], instance=instance)
        assert result.success
        runs = instance.get_runs()
        assert [r.run_id for r in runs] == [result.run_id]
        assert instance.get_latest_materialization_event(dg.AssetKey("tiny")) is not None
    with psycopg.connect(pg_url) as con:
        stored = con.execute(
            "select count(*) from information_schema.tables where table_schema = %s and table_name = 'runs'",
            (pg_schema,),
        ).fetchone()[0]
    assert stored == 1
