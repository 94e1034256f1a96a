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
