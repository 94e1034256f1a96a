"""The bench's warm stages: runs launched through the instance's run launcher into a warm run worker.

What a schedule, a sensor or a UI launch (a backfill of the history as one run per job, or one week) costs
once the daemon runs: each run is created from its job, as the daemon creates it, and launched through
the instance's run launcher (``deploy/dagster.yaml``: ``WarmRunLauncher``), whose worker is started and
waited for first (the daemon's first run pays that once). Timed from the first run's creation to the
last run's end event; CPU and peak are the run processes' own (each reports them when it ends).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import dagster as dg

from dsop_jobs.jobs import RANGE_END_TAG, RANGE_START_TAG
from dsop_jobs.pipeline import Stage, partition_window, selected_assets
from dsop_resources.run_launcher import WarmRunLauncher

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.02


def run_in_warm_worker(defs: dg.Definitions, instance: dg.DagsterInstance, start: date, end: date,
                       stages: list[Stage]) -> tuple[float, float, float]:
    """(wall seconds, the largest run process peak in MiB, the run processes' CPU seconds) of ``stages``
    over the history [start, end], one run per stage, each waited for before the next is launched."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    launcher = instance.run_launcher
    if not isinstance(launcher, WarmRunLauncher):
        raise SystemExit(f"the warm stages need the WarmRunLauncher in dagster.yaml, not {type(launcher).__name__}")
    repository = ReconstructableRepository.for_module("dsop_jobs.definitions", "defs",
                                                      working_directory=str(REPOSITORY_ROOT))
    launcher.warm_up(repository.get_reconstructable_job(stages[0].job).get_python_origin())
    began, peak, cpu, ended = time.time(), 0.0, 0.0, time.time()
    for stage in stages:
        job_def = defs.resolve_job_def(stage.job)
        window = partition_window(job_def.partitions_def, start, end, stage.last_periods, stage.complete_only)
        tags = {"dsop/trigger": "bench", "dsop/stage": stage.name}
        if window and window[0] == window[1]:
            tags["dagster/partition"] = window[0]
        elif window:
            tags |= {RANGE_START_TAG: window[0], RANGE_END_TAG: window[1]}
        run = instance.create_run_for_job(
            job_def=job_def, job_code_origin=repository.get_reconstructable_job(stage.job).get_python_origin(),
            asset_selection=selected_assets(defs, job_def, stage.groups), tags=tags)
        instance.launch_run(run.run_id, workspace=None)
        while not (record := instance.get_run_record_by_id(run.run_id)).dagster_run.is_finished:
            time.sleep(POLL_SECONDS)
        if record.dagster_run.status != dg.DagsterRunStatus.SUCCESS:
            raise SystemExit(f"{stage.name}: run {run.run_id} ended {record.dagster_run.status.value}")
        figures = _run_process_figures(instance, run.run_id)
        cpu, peak, ended = cpu + figures["cpu_seconds"], max(peak, figures["peak_mib"]), record.end_time
        print(f"[dsop] {stage.name} in the warm run worker: {window[0] + ' .. ' + window[1] if window else 'unpartitioned'}, "
              f"{figures['cpu_seconds']:.1f} s CPU (run {run.run_id[:8]})", flush=True)
    return ended - began, peak, cpu


def _run_process_figures(instance: dg.DagsterInstance, run_id: str) -> dict:
    # The run process reports its own CPU and peak after the run's end event (run_worker).
    for _ in range(3000):
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            metadata = record.dagster_event.engine_event_data.metadata if record.dagster_event else {}
            if "cpu_seconds" in metadata:
                return {name: metadata[name].value for name in ("cpu_seconds", "peak_mib")}
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"run {run_id}: its process never reported its CPU")
