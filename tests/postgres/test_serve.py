"""``dsop serve`` on the Postgres instance: a gRPC code server, the webserver and the daemon (run queue,
run monitoring) as separate processes. A run launched through the webserver's GraphQL API is queued,
launched by the daemon from the code server, succeeds, and its events are rows in Postgres."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from dsop_jobs.serve import free_port

REPO = Path(__file__).resolve().parents[2]
LAUNCH = """
mutation($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}
"""
STATUS = "query($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run { status } } }"
LOCATION = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", method="POST",
                                     data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    assert "errors" not in body, body
    return body["data"]


def _wait(what: str, ready, server: subprocess.Popen, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, f"dsop serve exited with {server.returncode} while waiting for {what}"
        try:
            found = ready()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_serve_runs_a_graphql_launched_run_recorded_in_postgres(tmp_path, pg_url, pg_schema):
    info = conninfo_to_dict(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f'create schema "{pg_schema}"')
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "DSOP_DUCKDB_PATH": str(tmp_path / "dsop.duckdb"),
           "DSOP_DUCKDB_READ_PATH": "", "DSOP_ERP_DIR": str(tmp_path / "erp"),
           "DAGSTER_PG_HOST": str(info.get("host", "127.0.0.1")), "DAGSTER_PG_PORT": str(info.get("port", 5432)),
           "DAGSTER_PG_USER": str(info["user"]), "DAGSTER_PG_PASSWORD": str(info.get("password", "")),
           "DAGSTER_PG_DB": str(info.get("dbname", "test"))}
    port, worker = free_port("127.0.0.1"), None
    server = subprocess.Popen(
        [sys.executable, "-m", "dsop_jobs.cli", "serve", "--instance", str(REPO / "deploy" / "dagster_postgres.yaml"),
         "--port", str(port), "--pg-schema", pg_schema],
        cwd=tmp_path, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait("the code location", lambda: any(
            e["loadStatus"] == "LOADED" for e in _graphql(port, LOCATION)["workspaceOrError"]["locationEntries"]), server)
        selector = {"repositoryLocationName": "dsop", "repositoryName": "__repository__", "jobName": "pipeline_health_job"}
        launched = _graphql(port, LAUNCH, {"executionParams": {"selector": selector, "runConfigData": {}}})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        status = _wait("the run to finish", lambda: (s := _graphql(port, STATUS, {"runId": run_id})["runOrError"]["status"])
                       in ("SUCCESS", "FAILURE", "CANCELED") and s, server)
        assert status == "SUCCESS"
        with psycopg.connect(pg_url) as con:
            events = {row[0] for row in con.execute(
                f'select dagster_event_type from "{pg_schema}".event_logs where run_id = %s', (run_id,))}
            daemons = {row[0] for row in con.execute(f'select daemon_type from "{pg_schema}".daemon_heartbeats')}
            launches = [row[0] for row in con.execute(
                f'select event from "{pg_schema}".event_logs where run_id = %s and dagster_event_type = %s',
                (run_id, "ENGINE_EVENT")) if "Launched in the warm run worker" in row[0]]
        # The event log keeps the legacy PIPELINE_* names for run events.
        assert {"PIPELINE_ENQUEUED", "PIPELINE_START", "ASSET_MATERIALIZATION", "PIPELINE_SUCCESS"} <= events, events
        assert {"QUEUED_RUN_COORDINATOR", "MONITORING", "BACKFILL"} <= daemons, daemons
        # The daemon launched it through the shipped WarmRunLauncher; its worker leaves with the daemon.
        assert len(launches) == 1, launches
        worker = int(re.search(r"warm run worker \(pid (\d+)\)", launches[0]).group(1))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        leftovers = _group_alive(server.pid, timeout=30)
        if leftovers:
            os.killpg(server.pid, signal.SIGKILL)  # only the group this test started
        assert not leftovers, "dsop serve left processes running after SIGTERM"
    assert worker is None or _gone(worker), f"the warm run worker {worker} outlived the daemon that started it"


def _gone(pid: int, polls: int = 120) -> bool:
    """Whether ``pid`` exits (or is left a zombie) within ``polls`` half-second looks."""
    for _ in range(polls):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.5)
    return False


def _group_alive(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.5)
    return True
