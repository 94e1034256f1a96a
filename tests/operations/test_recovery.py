"""A run killed with SIGKILL does not block later runs: with the shipped instance config, the
Dagster daemon's run monitoring marks it failed and frees its dsop_warehouse pool slot, and the
next run completes with no manual step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import yaml

from dsop_assets.erp.assets import WAREHOUSE_POOL

REPO = Path(__file__).resolve().parents[2]


def _wait(condition, seconds: float, what: str):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def test_a_killed_run_is_failed_by_the_daemon_and_the_next_run_completes(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    assert config["run_monitoring"]["enabled"] and config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
    # The shipped settings, only polled faster so the test is short.
    config["run_monitoring"] |= {"poll_interval_seconds": 1, "free_slots_after_run_end_seconds": 1}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the shipped storage config reads its folder from it
    marker = tmp_path / "holding"
    env = {**os.environ, "DAGSTER_HOME": str(home), "DSOP_TEST_MARKER": str(marker), "PYTHONPATH": str(REPO),
           "DAGSTER_DISABLE_TELEMETRY": "1"}
    run = [sys.executable, "-m", "tests.operations.recovery_job"]
    # Create the instance's storage once, here: the daemon and the run would otherwise race to
    # initialise the same fresh SQLite files.
    dg.DagsterInstance.from_config(str(home)).dispose()
    daemon = subprocess.Popen([sys.executable, "-m", "dagster._daemon", "run", "-m", "tests.operations.recovery_job"],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        victim = subprocess.Popen(run, cwd=REPO, env=env | {"DSOP_TEST_HOLD": "1"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(marker.exists, 120, "the first run to hold the pool slot")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            (dead,) = instance.get_runs()
            slots = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
            assert slots.slot_count == 1 and [s.run_id for s in slots.claimed_slots] == [dead.run_id]
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.STARTED  # what it left

            _wait(lambda: instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE, 120,
                  "run monitoring to mark the killed run failed")
            _wait(lambda: not instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots, 120,
                  "the killed run's pool slot to be freed")
            following = subprocess.run(run, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
            assert following.returncode == 0, following.stderr[-3000:]
            assert instance.get_run_by_id(following.stdout.split()[-1]).status == dg.DagsterRunStatus.SUCCESS
            said = [r.event_log_entry.message or "" for r in instance.get_records_for_run(dead.run_id).records]
            assert any("run worker process" in m and "is gone" in m for m in said), said[-3:]
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)  # the daemon and the code server it started
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
