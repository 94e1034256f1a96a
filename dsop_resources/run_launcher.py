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
