"""Waiting for the DuckDB write lock is logged every few seconds, naming the holder's PID."""

from __future__ import annotations

import logging
import subprocess
import sys

from dsop_resources import DuckDBWarehouse

HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(float(sys.argv[2]))"


def test_a_lock_wait_is_logged_with_the_holders_pid(tmp_path, caplog):
    path = str(tmp_path / "locked.duckdb")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path, "3"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        warehouse = DuckDBWarehouse(path=path, lock_timeout_seconds=60, lock_report_seconds=0.5)
        with caplog.at_level(logging.WARNING, logger="dsop.warehouse"):
            assert warehouse.query("select 42 as answer")["answer"][0] == 42  # waited, then got the lock
    finally:
        holder.kill()
        holder.wait()
    waits = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
    assert len(waits) >= 2, waits  # every few (here: 0.5) seconds, not once
    assert all(f"PID {holder.pid}" in m and "giving up after 60 s" in m for m in waits), waits


def test_giving_up_names_the_holder(tmp_path):
    import duckdb
    import pytest

    path = str(tmp_path / "locked.duckdb")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path, "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.IOException, match=f"gave up after .* held by PID {holder.pid}"):
            DuckDBWarehouse(path=path, lock_timeout_seconds=0.3).query("select 1")
    finally:
        holder.kill()
        holder.wait()
