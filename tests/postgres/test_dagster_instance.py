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


def _postgres_home(tmp_path, monkeypatch, pg_url: str, pg_schema: str) -> None:
    """DAGSTER_HOME = tmp_path holding the shipped Postgres instance config, its tables in a fresh schema."""
    info = conninfo_to_dict(pg_url)
    for name, value in {"HOST": info.get("host", "127.0.0.1"), "PORT": info.get("port", 5432), "USER": info["user"],
                        "PASSWORD": info.get("password", ""), "DB": info.get("dbname", "test")}.items():
        monkeypatch.setenv(f"DAGSTER_PG_{name}", str(value))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f'create schema "{pg_schema}"')
    config = yaml.safe_load((DEPLOY / "dagster_postgres.yaml").read_text())
    config["storage"]["custom"]["config"]["postgres_db"]["params"] = {"options": f"-c search_path={pg_schema}"}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))


def test_postgres_yaml_plans_per_asset_and_still_marks_failed_weeks(tmp_path, monkeypatch, pg_url, pg_schema) -> None:
    from dagster._core.events import DagsterEventType

    from dsop_assets.partitions import weekly_partitions
    from tests.operations.test_instance_storage import RANGE, WEEKS, _job

    _postgres_home(tmp_path, monkeypatch, pg_url, pg_schema)
    with dg.DagsterInstance.get() as instance:
        result = _job(fail_second=True).execute_in_process(instance=instance, tags=RANGE, raise_on_error=False)
        planned = instance.get_records_for_run(result.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        # one subset event per asset at launch, then the failed asset's four weeks at the failure
        assert len(planned.records) == 2 + len(WEEKS)
        assert sorted(instance.get_materialized_partitions(dg.AssetKey("first"))) == list(WEEKS)
        pending = instance.event_log_storage.get_latest_asset_partition_materialization_attempts_without_materializations(
            dg.AssetKey("second"))
        assert sorted(pending) == list(WEEKS)
        assert weekly_partitions.has_partition_key(WEEKS[0])


def test_postgres_yaml_stamps_each_partition_of_a_range_check(tmp_path, monkeypatch, pg_url, pg_schema) -> None:
    """The batched per-partition check results on Postgres: each week's row holds its own result event and
    status, and points at that week's latest materialisation (the UI's Passed/Failed per partition)."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

    from dsop_resources import DuckDBWarehouse
    from tests.quality.test_partition_results import WEEKS, _check_rows, _run

    _postgres_home(tmp_path, monkeypatch, pg_url, pg_schema)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.event_log_storage).__name__ == "FastPostgresEventLogStorage"
        result, infos, _ = _run(instance, DuckDBWarehouse(path=str(tmp_path / "w.duckdb")), bad_week=WEEKS[1])
        assert {k: i.latest_execution_status for k, i in infos.items()} == {
            WEEKS[0]: Status.SUCCEEDED, WEEKS[1]: Status.FAILED, WEEKS[2]: Status.SUCCEEDED}
        assert all(i.is_current for i in infos.values())
        rows = [r for r in _check_rows(instance) if r[2] == result.run_id]
        assert [(r[0], r[4], r[5]) for r in rows] == [(w, "ASSET_CHECK_EVALUATION", True) for w in WEEKS]
