"""The bench's ``warm_refresh`` stage: one week through the run launcher into a warm run worker.

What a schedule or a UI launch costs once the daemon runs: the run is created from the job, as the
daemon creates it, and launched through the instance's run launcher (``deploy/dagster.yaml``:
``WarmRunLauncher``), whose worker is started and waited for first (the daemon's first run pays that
once). Timed from the run's creation to its end event.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import dagster as dg

from dsop_jobs.jobs import WEEKLY_JOB
from dsop_jobs.pipeline import AGGREGATES, partition_window, selected_assets
from dsop_resources.run_launcher import WarmRunLauncher

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.02


def refresh_in_warm_worker(defs: dg.Definitions, instance: dg.DagsterInstance, start: date, end: date) -> tuple:
    """(wall seconds, the run process's peak MiB, its CPU seconds) of the latest complete week."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    launcher = instance.run_launcher
    if not isinstance(launcher, WarmRunLauncher):
        raise SystemExit(f"warm_refresh needs the WarmRunLauncher in dagster.yaml, not {type(launcher).__name__}")
    repository = ReconstructableRepository.for_module("dsop_jobs.definitions", "defs",
                                                      working_directory=str(REPOSITORY_ROOT))
    recon_job = repository.get_reconstructable_job(WEEKLY_JOB)
    job_def = defs.resolve_job_def(WEEKLY_JOB)
    week, _ = partition_window(job_def.partitions_def, start, end, 1, True)
    launcher.warm_up(recon_job.get_python_origin())
    began = time.time()
    run = instance.create_run_for_job(
        job_def=job_def, job_code_origin=recon_job.get_python_origin(),
        asset_selection=selected_assets(defs, job_def, AGGREGATES),
        tags={"dagster/partition": week, "dsop/trigger": "bench", "dsop/stage": "warm refresh"})
    instance.launch_run(run.run_id, workspace=None)
    while not (record := instance.get_run_record_by_id(run.run_id)).dagster_run.is_finished:
        time.sleep(POLL_SECONDS)
    if record.dagster_run.status != dg.DagsterRunStatus.SUCCESS:
        raise SystemExit(f"warm refresh run {run.run_id} ended {record.dagster_run.status.value}")
    seconds = record.end_time - began
    figures = _run_process_figures(instance, run.run_id)
    print(f"[dsop] one new week ({week}) in the warm run worker done in {seconds:.1f}s (run {run.run_id[:8]})")
    return seconds, figures["peak_mib"], figures["cpu_seconds"]


def _run_process_figures(instance: dg.DagsterInstance, run_id: str) -> dict:
    # The run process reports its own CPU and peak after the run's end event (run_worker).
    for _ in range(3000):
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            metadata = record.dagster_event.engine_event_data.metadata if record.dagster_event else {}
            if "cpu_seconds" in metadata:
                return {name: metadata[name].value for name in ("cpu_seconds", "peak_mib")}
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"run {run_id}: its process never reported its CPU")
