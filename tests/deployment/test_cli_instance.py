"""The README's Dagster CLI command records its run in the instance the UI shows (``.dagster_home``),
the one ``dsop demo`` writes to, rather than in a throwaway instance."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[2]


def _readme_command() -> str:
    found = re.findall(r"^(DAGSTER_HOME=\S+ dagster asset materialize .+)$", (REPO / "README.md").read_text(), re.M)
    assert len(found) == 1, "the README should show one `dagster asset materialize` command"
    return found[0]


def test_readme_cli_run_lands_in_the_demo_instance(tmp_path, monkeypatch):
    from dsop_jobs.demo_data.generator import generate
    from dsop_jobs.cli import _default_env
    from dsop_jobs.definitions import build_assets
    from dsop_resources.factory import core_resources

    command = _readme_command()
    partition = re.search(r"--partition (\S+)", command).group(1)
    monkeypatch.chdir(tmp_path)
    for name in ("DAGSTER_HOME", "DSOP_ERP_DIR", "DSOP_DUCKDB_PATH", "DSOP_DUCKDB_READ_PATH"):
        monkeypatch.delenv(name, raising=False)
    _default_env()  # what `dsop demo` sets up: data/ and .dagster_home under the current folder
    generate(Path("data/erp"), scale="tiny", seed=11, end_date=date.fromisoformat(partition) + (date(2026, 11, 22) - date(2026, 11, 16)))
    masters = ["product_master", "customer"]
    with dg.DagsterInstance.get() as instance:
        assert dg.materialize(build_assets(), selection=masters, resources=core_resources(), instance=instance).success

    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}  # the README command sets it
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]

    with dg.DagsterInstance.from_config(str(tmp_path / ".dagster_home")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("daily_order"))
        assert event is not None and event.dagster_event.partition == partition
        run = instance.get_run_by_id(event.run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS


def test_env_file_keeps_other_lines(tmp_path):
    from dsop_jobs.cli import write_env_file

    (tmp_path / ".env").write_text("# mine\nFRED_API_KEY=abc\nexport DSOP_HISTORY_START=2020-01-06\n")
    odd = '/x/my data #2/"q"\\.dagster_home'
    write_env_file({"DSOP_HISTORY_START": "2025-05-19", "DAGSTER_HOME": odd}, tmp_path)
    lines = (tmp_path / ".env").read_text().splitlines()
    assert lines[:2] == ["# mine", "FRED_API_KEY=abc"] and len(lines) == 4
    from dotenv import dotenv_values  # what Dagster's CLI reads it with

    assert dotenv_values(tmp_path / ".env") == {"FRED_API_KEY": "abc", "DSOP_HISTORY_START": "2025-05-19",
                                                "DAGSTER_HOME": odd}


def test_dagster_cli_uses_the_demo_settings_without_a_prefix(tmp_path, monkeypatch):
    """After `dsop demo`, a bare `dagster asset materialize` in its folder reads the .env the demo wrote:
    its run lands in the demo's instance, and its partitions start where the demo data starts."""
    from dsop_jobs.cli import _default_env, share_settings
    from dsop_jobs.demo_data.generator import generate
    from dsop_jobs.definitions import build_assets
    from dsop_resources.factory import core_resources

    monkeypatch.chdir(tmp_path)
    for name in ("DAGSTER_HOME", "DSOP_ERP_DIR", "DSOP_DUCKDB_PATH", "DSOP_DUCKDB_READ_PATH", "DSOP_HISTORY_START"):
        monkeypatch.delenv(name, raising=False)
    _default_env()
    manifest = generate(Path("data/erp"), scale="tiny", seed=11, end_date=date(2026, 11, 22))
    monkeypatch.setenv("DSOP_HISTORY_START", manifest["history_start"])  # what `dsop demo` sets
    share_settings()
    with dg.DagsterInstance.get() as instance:
        assert dg.materialize(build_assets(), selection=["product_master", "customer"], resources=core_resources(),
                              instance=instance).success

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DSOP_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    dagster = ["dagster", "asset", "materialize", "-m", "dsop_jobs.definitions", "--select", "daily_order", "--partition"]
    done = subprocess.run(dagster + ["2026-11-16"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(tmp_path / ".dagster_home")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("daily_order"))
        assert event is not None and event.dagster_event.partition == "2026-11-16"

    # 2023-01-02 is the first week without DSOP_HISTORY_START; the demo's partitions start in 2024.
    assert manifest["history_start"] > "2024-01-01"
    before = subprocess.run(dagster + ["2023-01-02"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert before.returncode != 0 and "containing the passed partition key `2023-01-02`" in before.stderr, \
        before.stderr[-2000:]


def test_an_instance_without_the_warm_launcher_gets_a_hint(tmp_path, monkeypatch, capsys):
    from dsop_jobs.cli import _default_env

    home = tmp_path / ".dagster_home"
    home.mkdir()
    shipped = (REPO / "deploy" / "dagster.yaml").read_text()
    (home / "dagster.yaml").write_text(shipped.replace("class: WarmRunLauncher", "class: LocalHealthCheckedRunLauncher"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    _default_env()

    assert "predates the warm run worker" in capsys.readouterr().err
    (home / "dagster.yaml").write_text(shipped)
    _default_env()
    assert "warm run worker" not in capsys.readouterr().err
