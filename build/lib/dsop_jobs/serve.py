"""``dsop serve``: the Dagster deployment on one machine, three processes on one instance.

- a code server (``dagster code-server start``) that loads the definitions once and serves them over gRPC;
  runs are started from it, so a bad deploy of the code never takes the UI down;
- the webserver, reading the code location from that gRPC server;
- the daemon: run queue (QueuedRunCoordinator), schedules, sensors, backfills and run monitoring.

The instance is ``$DAGSTER_HOME/dagster.yaml``: written from ``--instance`` when given (with run
monitoring switched on unless the file sets it), else the one already there, else the Postgres config
``deploy/dagster_postgres.yaml``. It must use the QueuedRunCoordinator: the daemon launches the runs.
Stop with Ctrl-C or SIGTERM: the three processes are stopped with it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

LOCATION = "dsop"
# Run monitoring marks a run whose worker died as failed and frees its pool slots (a SIGKILLed run
# would otherwise hold the dsop_warehouse slot forever).
RUN_MONITORING = {"enabled": True, "start_timeout_seconds": 180, "max_resume_run_attempts": 0,
                  "poll_interval_seconds": 30, "free_slots_after_run_end_seconds": 30}


def default_instance_config() -> Path:
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        candidate = root / "deploy" / "dagster_postgres.yaml"
        if candidate.exists():
            return candidate
    raise SystemExit("deploy/dagster_postgres.yaml not found: pass --instance PATH")


def write_instance(home: Path, source: Path | None, pg_schema: str | None) -> Path:
    """``home/dagster.yaml`` from ``source`` (None: keep the existing one, else the Postgres default),
    with run monitoring, and Dagster's tables in ``pg_schema`` when given."""
    target = home / "dagster.yaml"
    if source is None and target.exists() and not pg_schema:
        config = yaml.safe_load(target.read_text()) or {}
        _check(config, target)
        if not config.get("run_monitoring", {}).get("enabled"):
            print(f"[dsop] {target} has no run_monitoring: a killed run keeps its pool slot", file=sys.stderr)
        return target
    source = source or (target if target.exists() else default_instance_config())
    config = yaml.safe_load(source.read_text()) or {}
    _check(config, source)
    config.setdefault("run_monitoring", RUN_MONITORING)
    if pg_schema:
        db = config.get("storage", {}).get("postgres", {}).get("postgres_db")
        if db is None:
            raise SystemExit(f"{source}: --pg-schema needs a Postgres instance config")
        db["params"] = {**(db.get("params") or {}), "options": f"-c search_path={pg_schema}"}
    home.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def _check(config: dict, path: Path) -> None:
    if (config.get("run_coordinator") or {}).get("class") != "QueuedRunCoordinator":
        raise SystemExit(f"{path}: `dsop serve` needs the QueuedRunCoordinator (the daemon launches the runs)")


def write_workspace(home: Path, host: str, grpc_port: int) -> Path:
    workspace = home / "workspace_grpc.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [
        {"grpc_server": {"host": host, "port": grpc_port, "location_name": LOCATION}}]}))
    return workspace


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _wait_for_port(host: str, port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"code server exited with {process.returncode} before serving")
        with socket.socket() as sock:
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.3)
    raise SystemExit(f"code server did not listen on {host}:{port} within {timeout:.0f}s")


def commands(bin_dir: Path, host: str, port: int, grpc_port: int, workspace: Path) -> dict[str, list[str]]:
    return {
        "code-server": [str(bin_dir / "dagster"), "code-server", "start", "-m", "dsop_jobs.definitions", "-a", "defs",
                        "--host", host, "--port", str(grpc_port), "--location-name", LOCATION],
        "webserver": [str(bin_dir / "dagster-webserver"), "-w", str(workspace), "-h", host, "-p", str(port)],
        "daemon": [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace)],
    }


def serve(home: Path, instance: Path | None, host: str, port: int, grpc_port: int | None, pg_schema: str | None,
          startup_timeout: float = 300) -> int:
    home = home.resolve()
    config = write_instance(home, instance, pg_schema)
    grpc_port = grpc_port or free_port(host)
    workspace = write_workspace(home, host, grpc_port)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    argv = commands(Path(sys.executable).parent, host, port, grpc_port, workspace)
    children: dict[str, subprocess.Popen] = {}

    def stop(*_) -> None:
        for process in children.values():
            if process.poll() is None:
                process.terminate()
        for process in children.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    print(f"[dsop] instance {config}; code server {host}:{grpc_port}; UI http://{host}:{port}", file=sys.stderr,
          flush=True)
    try:
        children["code-server"] = subprocess.Popen(argv["code-server"], env=env)
        _wait_for_port(host, grpc_port, children["code-server"], startup_timeout)
        children["webserver"] = subprocess.Popen(argv["webserver"], env=env)
        children["daemon"] = subprocess.Popen(argv["daemon"], env=env)
        while True:
            for name, process in children.items():
                if process.poll() is not None:
                    print(f"[dsop] {name} exited with {process.returncode}; stopping the others", file=sys.stderr)
                    return process.returncode or 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        stop()
