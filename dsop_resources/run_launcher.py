"""Dagster's default run launcher, plus the health check run monitoring needs to see a dead run.

Dagster's ``DefaultRunLauncher`` cannot tell run monitoring whether a run's worker is alive, so a
run whose process was killed (``kill -9``, OOM killer, a reboot of the machine running
``dagster dev``) stays STARTED for ever and its ``dsop_warehouse`` pool slot is never freed:
every later run waits on "Step blocked by limit for pool". This launcher launches exactly like
the default one and answers the health check from the process that started the run (the pid on its
RUN_START event): gone, a zombie, or a newer process reusing the pid means the worker is dead. Run
monitoring then marks the run failed and, after ``free_slots_after_run_end_seconds``, frees its
slots (deploy/dagster.yaml). The check is local: it suits instances whose runs execute on the
machine the daemon runs on (the default launcher's case), not container launchers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from dagster import DagsterEventType, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun


class LocalHealthCheckedRunLauncher(DefaultRunLauncher):
    """``DefaultRunLauncher`` whose runs' worker processes run monitoring can check."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        records = self._instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_START, limit=1).records
        event = records[0].event_log_entry if records else None
        pid = event.dagster_event.pid if event and event.dagster_event else None
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no RUN_START event yet")
        state = process_state(pid, started_by=event.timestamp)
        if state == "alive":
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker process {pid} is alive")
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker process {pid} is {state}")


def process_state(pid: int, started_by: float | None = None) -> str:
    """'alive', 'gone', 'a zombie' or 'replaced' (the pid now belongs to a process started later)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        pass  # exists, owned by another user
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():  # not Linux: existence is all we can tell
        return "alive"
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, StopIteration, IndexError, ValueError):
        return "alive"
    if fields[0] in ("Z", "X"):
        return "a zombie"
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    # A process that started after the run did is not the run's worker (pids are reused).
    if started_by is not None and started > started_by + 2:
        return "replaced"
    return "alive"


class WarmRunLauncher(LocalHealthCheckedRunLauncher):
    """``LocalHealthCheckedRunLauncher`` whose runs fork from a warm run worker (``run_worker``).

    The worker has already imported the code location and ``preload``; a run then starts in a few
    milliseconds instead of paying the imports again (a one-week refresh: ~8 s of CPU, half of it
    imports). A code change on disk starts a new worker before the next run. When no worker can take
    the run (the code location's Python cannot import dsop, the instance has no ref), the run is
    launched the default way, and its event log says why.
    """

    def __init__(self, inst_data=None, preload: list[str] | None = None, start_timeout_seconds: float = 300):
        from dsop_resources.run_worker import DEFAULT_PRELOAD

        super().__init__(inst_data=inst_data)
        self._preload = tuple(preload if preload is not None else DEFAULT_PRELOAD)
        self._start_timeout = start_timeout_seconds
        self._workers: list = []
        self._launching = threading.Lock()  # the run queue may launch from several threads: one worker

    @classmethod
    def config_type(cls):
        from dagster import Array, Field, Noneable

        return {"preload": Field(Noneable(Array(str)), is_required=False, default_value=None,
                                 description="module or module:function imported before runs fork"),
                "start_timeout_seconds": Field(float, is_required=False, default_value=300.0)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def launch_run(self, context) -> None:
        from dagster._core.events import EngineEventData
        from dagster._serdes import serialize_value

        from dsop_resources import run_worker

        run = context.dagster_run
        try:
            with self._launching:
                pid, worker = run_worker.launch(self._location(run.job_code_origin), run.run_id,
                                                serialize_value(self._instance.get_ref()), self._workers)
        except (run_worker.WorkerUnavailable, OSError, ValueError) as reason:
            self._instance.report_engine_event(
                f"No warm run worker ({reason}); launching the run the default way.", run, cls=self.__class__)
            return super().launch_run(context)
        self._instance.add_run_tags(run.run_id, {WARM_PID_TAG: str(pid)})
        self._instance.report_engine_event(f"Launched in the warm run worker (pid {worker}): run process {pid}.", run,
                                           EngineEventData(metadata={"pid": pid, "worker_pid": worker}),
                                           cls=self.__class__)
        self._run_ids.add(run.run_id)

    def warm_up(self, job_code_origin) -> None:
        """Have the worker for this code location serving before the first run asks for it."""
        from dsop_resources import run_worker

        with self._launching:
            run_worker.warm_up(self._location(job_code_origin), self._workers)

    def _location(self, job_code_origin):
        from dagster._serdes import serialize_value

        from dsop_resources.run_worker import Location, WorkerUnavailable

        if job_code_origin is None:
            raise WorkerUnavailable("the run has no code origin")
        self._workers = [w for w in self._workers if w.poll() is None]  # reap workers that exited
        repository = job_code_origin.repository_origin
        return Location(serialize_value(repository), repository.executable_path or sys.executable,
                        getattr(repository.code_pointer, "working_directory", None),
                        self._instance.root_directory or "", self._preload, self._start_timeout)

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id) if self.has_instance else None
        if run is None or run.is_finished or WARM_PID_TAG not in run.tags:
            return super().terminate(run_id)
        self._instance.report_run_canceling(run)
        pid = int(run.tags[WARM_PID_TAG])
        records = self._instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_START, limit=1).records
        if process_state(pid, started_by=records[0].event_log_entry.timestamp if records else None) != "alive":
            return False
        os.kill(pid, signal.SIGINT)  # Dagster's interrupt handling in the run marks it canceled
        return True

    def dispose(self) -> None:
        for worker in self._workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in self._workers:
            try:
                worker.wait(timeout=30)  # it leaves at once on SIGTERM; the cap only guards a hung one
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self._workers = []
        super().dispose()


WARM_PID_TAG = "dsop/run_process"
