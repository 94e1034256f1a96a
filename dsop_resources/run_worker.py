"""A warm run worker: runs start from a process that has already imported the code.

Dagster's default launcher asks the code server to start each run in a fresh Python (``spawn``),
which imports Dagster, the definitions, Polars, DuckDB and, at the first quality check, Great
Expectations again: ~3-4 s of CPU before and inside every run, most of a one-week refresh. The warm
worker imports all of that once and forks one process per run. The forked process runs exactly
what ``dagster api execute_run`` runs (the run's code origin, the run's instance), so the run, its
events and its status are the same; only the imports are already done.

Protocol: one JSON line per request over a Unix socket private to the user (mode 0600):
``{"run_id", "instance_ref"}`` -> ``{"pid", "worker"}`` (the run's process and the worker's), or
``{"stale": true}`` when a module file the worker imported (or the ``.env`` file) has changed since
(the worker then exits and the launcher starts a new one, so a run never executes code older than what
is on disk).

The worker keeps no state between runs: it never opens the warehouse or the instance itself, and
starts no thread, so each fork starts from the same imported modules. It exits when the process that
started it (the daemon, ``dagster dev``, a test) is gone.
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# Done by the worker before it serves, beside importing the code location: what a run would otherwise
# pay on its way (GX's import, context and first validation in the first check step, ~2 s of CPU;
# statsforecast, whose import compiles or loads its numba code, ~2.3 s, in the monthly feature store's
# nowcast and every forecast; pandas for DuckDB's parameter binding; pyarrow for the warehouse's writes;
# the instance's storage and the paths of its state storage).
DEFAULT_PRELOAD = ("dsop_assets.quality.expectations:warm_up", "statsforecast.models", "pandas", "pyarrow",
                   "dsop_jobs.instance_storage", "upath.core")
LOCAL_ENV_FILE = ".env"  # relative: the worker's working directory, the code location's
PARENT_POLL_SECONDS = 1.0  # how soon a worker notices its starter is gone; speed only, never results
# A request is answered in milliseconds; past this the launcher gives up on the worker and launches the
# run the default way (a safety net against a hung worker, never reached in normal operation).
REQUEST_TIMEOUT_SECONDS = 60.0


def worker_key(serialized_repository_origin: str, instance_dir: str, preload: tuple[str, ...]) -> str:
    """One worker per code location, instance, Python and environment: a run must see the same
    environment a freshly started run process would (the hash is kept, never the values)."""
    digest = hashlib.sha256()
    for part in (serialized_repository_origin, instance_dir, sys.executable, os.getcwd(), *preload,
                 *sorted(f"{k}={v}" for k, v in os.environ.items())):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()[:20]


def socket_path(key: str) -> Path:
    # Unix socket paths are limited to ~100 bytes, so not under DAGSTER_HOME (tests' homes are deep).
    return Path(tempfile.gettempdir()) / f"dsop-run-worker-{os.getuid()}-{key}.sock"


def source_stamps() -> dict[str, tuple[int, int] | None]:
    """(mtime_ns, size) of every imported module's file and of the working directory's ``.env`` file
    (None when there is none): a reinstall, an edit or a changed setting changes one."""
    paths = [getattr(module, "__file__", None) for module in list(sys.modules.values())]
    return {path: _stamp(path) for path in [*filter(None, paths), LOCAL_ENV_FILE]}


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def changed_since(stamps: dict[str, tuple[int, int] | None]) -> bool:
    """Whether a file stamped by ``source_stamps`` has changed, gone or appeared since (modules
    imported later came from disk when they were imported)."""
    return any(_stamp(path) != stamp for path, stamp in stamps.items())


def load_local_env_file() -> None:
    """The working directory's ``.env`` into the environment, before the code is imported: what
    ``dagster api execute_run`` does for a run it starts (the settings are read at import)."""
    from dagster._core.secrets.env_file import get_env_var_dict

    os.environ.update(get_env_var_dict(os.getcwd()))


def preload(serialized_repository_origin: str, names: tuple[str, ...]) -> None:
    """Import the code location's definitions (as the run process would) and ``names``
    (``module`` or ``module:function``, the function called with no arguments)."""
    from dagster._serdes import deserialize_value
    from dagster._core.origin import RepositoryPythonOrigin
    from dagster._utils.hosted_user_process import recon_repository_from_origin

    # tqdm (GX's progress bars) starts a monitor thread with its first bar; a thread does not survive a
    # fork, and one holding tqdm's lock at that moment would leave the lock held in every run.
    import tqdm

    tqdm.tqdm.monitor_interval = 0
    origin = deserialize_value(serialized_repository_origin, RepositoryPythonOrigin)
    recon_repository_from_origin(origin).get_definition()
    # What _run_in_child runs the run with: a Dagster without it fails here, and runs start the default way.
    getattr(importlib.import_module("dagster._cli.api"), "_execute_run_command_body")
    for name in names:
        module, _, function = name.partition(":")
        loaded = importlib.import_module(module)
        if function:
            getattr(loaded, function)()


# Threads a forked run would miss and then wait for: Polars' compute pool and its async runtime.
UNFORKABLE_THREADS = re.compile(r"polars-\d+|tokio-rt-worker")


def threads_that_break_fork() -> list[str]:
    """Threads running in this process that a forked child would lack while still relying on them:
    any Python thread but the main one, and Polars' pools (started by the first parallel Polars call)."""
    extra = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    try:
        native = [Path(f"/proc/self/task/{task}/comm").read_text().strip() for task in os.listdir("/proc/self/task")]
    except OSError:  # not Linux: Python's own view only
        native = []
    return extra + [name for name in native if UNFORKABLE_THREADS.fullmatch(name)]


def serve(path: Path, stamps: dict[str, tuple[int, int] | None], parent: int) -> None:
    """Accept run requests until the starter is gone or the code on disk changed."""
    staging = path.with_name(f"{path.name}.{os.getpid()}")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous_umask = os.umask(0o177)
    try:
        server.bind(str(staging))
    finally:
        os.umask(previous_umask)
    inode = os.stat(staging).st_ino
    server.listen(16)
    os.replace(staging, path)  # atomic: a launcher never connects to a half-made socket
    server.settimeout(PARENT_POLL_SECONDS)
    try:
        while os.getppid() == parent:
            _reap_finished_runs()
            try:
                connection, _ = server.accept()
            except socket.timeout:
                continue
            with connection:
                connection.settimeout(None)
                line = _read_line(connection)
                if not line:  # a launcher checking that the worker serves
                    continue
                try:
                    request = json.loads(line)
                    run_id, instance_ref = request["run_id"], request["instance_ref"]
                except (ValueError, KeyError, TypeError):
                    continue  # not a launcher's request: nothing to answer
                if changed_since(stamps):
                    _unlink_if_ours(path, inode)  # before answering: the next worker binds this path
                    connection.sendall(b'{"stale": true}\n')
                    return
                pid = os.fork()
                if pid == 0:
                    server.close()
                    connection.close()
                    os._exit(_run_in_child(run_id, instance_ref))
                connection.sendall(json.dumps({"pid": pid, "worker": os.getpid()}).encode() + b"\n")
    finally:
        server.close()
        _unlink_if_ours(path, inode)


def _unlink_if_ours(path: Path, inode: int) -> None:
    # Another worker for the same key may have replaced the socket file since (two launchers racing).
    try:
        if os.stat(path).st_ino == inode:
            path.unlink()
    except OSError:
        pass


def _read_line(connection: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode()


def _reap_finished_runs() -> None:
    # Reaped here rather than ignored (SIGCHLD SIG_IGN): a run's CPU then counts in the worker's
    # children's usage, and a run process that forks subprocesses of its own can still wait on them.
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _run_in_child(run_id: str, serialized_instance_ref: str) -> int:
    """What ``dagster api execute_run`` does with a run, in the forked process."""
    os.setsid()  # its own process group: a signal meant for the worker does not reach a running run
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a run process ends on SIGTERM as a spawned one would
    try:
        from dagster._cli.api import _execute_run_command_body
        from dagster._cli.utils import get_instance_for_cli
        from dagster._core.events import EngineEventData
        from dagster._core.instance import InstanceRef
        from dagster._serdes import deserialize_value
        from dagster._utils.interrupts import capture_interrupts

        with capture_interrupts():
            with get_instance_for_cli(instance_ref=deserialize_value(serialized_instance_ref, InstanceRef)) as instance:
                _execute_run_command_body(run_id, instance, lambda event: None, set_exit_code_on_failure=False)
                usage = resource.getrusage(resource.RUSAGE_SELF)
                run = instance.get_run_by_id(run_id)
                if run is not None:
                    cpu, peak = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # KiB on Linux
                    instance.report_engine_event(
                        f"Run process {os.getpid()} (warm run worker) done: {cpu:.1f} s CPU, peak {peak:.0f} MiB.",
                        run, EngineEventData(metadata={"cpu_seconds": cpu, "peak_mib": peak, "pid": os.getpid()}))
        return 0
    except BaseException:  # noqa: BLE001 - the run's failure is in its event log; the exit code says it
        import traceback

        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


class WorkerUnavailable(Exception):
    """No warm worker could take the run; the launcher starts it the usual way instead."""


@dataclass(frozen=True)
class Location:
    """The code location a worker serves, and how to start one for it."""

    serialized_repository_origin: str
    executable: str
    working_directory: str | None
    instance_dir: str
    preload: tuple[str, ...] = DEFAULT_PRELOAD
    start_timeout: float = 300.0  # only against a worker stuck importing; the run then starts the usual way

    @property
    def socket(self) -> Path:
        return socket_path(worker_key(self.serialized_repository_origin, self.instance_dir, self.preload))


def launch(location: Location, run_id: str, serialized_instance_ref: str,
           started: list[subprocess.Popen]) -> tuple[int, int]:
    """The pids of the run's process and of the warm worker for this code location that forked it
    (started first, and waited for, when there is none or the one there has seen its code change)."""
    for _ in range(2):
        try:
            reply = _request(location.socket, run_id, serialized_instance_ref)
        except (FileNotFoundError, ConnectionRefusedError):
            reply = {"stale": True}
        if "pid" in reply:
            return int(reply["pid"]), int(reply["worker"])
        if not reply.get("stale"):
            raise WorkerUnavailable(reply.get("error") or "the worker gave no answer")
        _start(location, started)
    raise WorkerUnavailable("a freshly started worker found its code changed again")


def warm_up(location: Location, started: list[subprocess.Popen]) -> None:
    """Start the worker for this code location, if none serves yet, and wait until it does."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.connect(str(location.socket))
    except (FileNotFoundError, ConnectionRefusedError):
        _start(location, started)


def _start(location: Location, started: list[subprocess.Popen]) -> None:
    path = location.socket
    worker = subprocess.Popen(
        [location.executable, "-m", "dsop_resources.run_worker", str(path), location.serialized_repository_origin,
         *location.preload],
        cwd=location.working_directory or None, stdin=subprocess.DEVNULL, start_new_session=True)
    started.append(worker)
    _wait_until_serving(path, worker, location.start_timeout)


def _request(path: Path, run_id: str, serialized_instance_ref: str) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(REQUEST_TIMEOUT_SECONDS)
        connection.connect(str(path))
        connection.sendall(json.dumps({"run_id": run_id, "instance_ref": serialized_instance_ref}).encode() + b"\n")
        answer = _read_line(connection)
    return json.loads(answer) if answer else {}


def _wait_until_serving(path: Path, worker: subprocess.Popen, timeout: float) -> None:
    # The time cap only guards against a worker stuck importing; the run then starts the usual way.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise WorkerUnavailable(f"the worker exited with code {worker.returncode} while importing the code")
        if path.exists():
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.connect(str(path))
                return  # the probe's empty request is read as no request (see serve)
            except (FileNotFoundError, ConnectionRefusedError):
                pass
        time.sleep(0.05)
    worker.kill()
    raise WorkerUnavailable(f"the worker was not serving after {timeout:.0f} s")


def main(argv: list[str]) -> int:
    path, serialized_origin, *names = argv
    parent = os.getppid()
    # Everything the preload leaves alive lives as long as the worker: frozen, so the collector's full
    # passes in every forked run skip it (and do not write to, and so copy, the pages the runs share).
    gc.disable()
    load_local_env_file()
    preload(serialized_origin, tuple(names))
    gc.freeze()
    gc.enable()
    if unsafe := threads_that_break_fork():
        print(f"[dsop run worker] not serving: the preload started threads a forked run would lack ({unsafe}); "
              "runs are launched the default way", file=sys.stderr)
        return 2
    serve(Path(path), source_stamps(), parent)
    return 0


def _exit_on_sigterm(signum, frame) -> None:
    sys.exit(0)  # through serve's cleanup: the socket file goes with the worker


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sys.exit(main(sys.argv[1:]))
