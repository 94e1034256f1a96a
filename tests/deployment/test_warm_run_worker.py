"""Runs launched through the warm run worker (``WarmRunLauncher``): real runs of a small code location
of their own, recorded in a real SQLite instance, each in a process forked from the worker."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.launcher import LaunchRunContext, WorkerStatus

from dsop_resources.run_launcher import WARM_PID_TAG, WarmRunLauncher

JOBS = Path(__file__).with_name("warm_worker_jobs.py")
POLL = 0.05
MAX_POLLS = 1200  # a bound on waiting for a run, not a timing assertion


@pytest.fixture
def location(tmp_path, monkeypatch):
    """A DAGSTER_HOME whose instance launches with the warm launcher, and a copy of the jobs' module
    (so a test can change the code on disk)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "run_launcher:\n  module: dsop_resources.run_launcher\n  class: WarmRunLauncher\n"
        "  config:\n    preload: []\n")
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(JOBS, code / "warm_jobs.py")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("WARM_TEST_OUT", str(tmp_path / "out.txt"))
    monkeypatch.setenv("WARM_TEST_VALUE", "from the launcher's environment")
    with dg.DagsterInstance.get() as instance:
        yield instance, code, tmp_path / "out.txt"


def _repository(code: Path) -> ReconstructableRepository:
    return ReconstructableRepository.for_file(str(code / "warm_jobs.py"), "defs", working_directory=str(code))


def _launch(instance: dg.DagsterInstance, code: Path, job: str) -> dg.DagsterRun:
    recon_job = _repository(code).get_reconstructable_job(job)
    run = instance.create_run_for_job(job_def=recon_job.get_definition(), job_code_origin=recon_job.get_python_origin())
    instance.launch_run(run.run_id, workspace=None)
    return run


def _finished(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    for _ in range(MAX_POLLS):
        run = instance.get_run_by_id(run_id)
        if run.is_finished:
            return run
        time.sleep(POLL)
    raise AssertionError(f"run {run_id} still {instance.get_run_by_id(run_id).status}")


def _facts(out: Path) -> tuple[int, int, str]:
    pid, parent, value = out.read_text().split(" ", 2)
    return int(pid), int(parent), value


def test_runs_fork_from_one_warm_worker_and_are_recorded(location):
    instance, code, out = location
    assert isinstance(instance.run_launcher, WarmRunLauncher)
    first = _finished(instance, _launch(instance, code, "facts_job").run_id)
    first_pid, worker, value = _facts(out)
    second = _finished(instance, _launch(instance, code, "facts_job").run_id)
    second_pid, second_worker, _ = _facts(out)

    assert first.status == second.status == dg.DagsterRunStatus.SUCCESS
    assert value == "from the launcher's environment"
    assert worker == second_worker != os.getpid()  # both forked by the same worker, not by the launcher
    assert first_pid != second_pid
    assert first.tags[WARM_PID_TAG] == str(first_pid)
    assert instance.get_latest_materialization_event(dg.AssetKey("process_facts")).run_id == second.run_id
    messages = [e.message for e in instance.all_logs(first.run_id)]
    assert any("Launched in the warm run worker" in m for m in messages)
    assert any("(warm run worker) done" in m for m in messages)


def test_changed_code_starts_a_new_worker_before_the_next_run(location):
    instance, code, out = location
    _finished(instance, _launch(instance, code, "facts_job").run_id)
    _, old_worker, _ = _facts(out)
    source = (code / "warm_jobs.py").read_text()
    (code / "warm_jobs.py").write_text(source.replace("{os.getppid()} {", "{os.getppid()} changed {"))

    run = _finished(instance, _launch(instance, code, "facts_job").run_id)

    assert run.status == dg.DagsterRunStatus.SUCCESS
    _, new_worker, value = _facts(out)
    assert new_worker != old_worker
    assert value.startswith("changed ")  # the run executed the code now on disk


def test_the_code_locations_env_file_is_read_as_a_fresh_run_process_reads_it(location):
    instance, code, out = location
    (code / ".env").write_text("WARM_TEST_VALUE=from the .env file\n")
    _finished(instance, _launch(instance, code, "facts_job").run_id)
    _, first_worker, first_value = _facts(out)
    (code / ".env").write_text("WARM_TEST_VALUE=from the edited .env file\n")

    _finished(instance, _launch(instance, code, "facts_job").run_id)

    _, second_worker, second_value = _facts(out)
    assert (first_value, second_value) == ("from the .env file", "from the edited .env file")
    assert second_worker != first_worker  # a changed setting starts a new worker, as changed code does


def test_a_failing_run_fails_with_its_error(location):
    instance, code, _ = location
    run = _finished(instance, _launch(instance, code, "failing_job").run_id)

    assert run.status == dg.DagsterRunStatus.FAILURE
    failures = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    assert "this asset fails on purpose" in failures[0].dagster_event.step_failure_data.error.to_string()


def test_terminate_cancels_a_running_run_and_health_follows_its_process(location):
    instance, code, out = location
    run = _launch(instance, code, "wait_job")
    for _ in range(MAX_POLLS):
        if out.with_suffix(".started").exists():
            break
        time.sleep(POLL)
    launcher = instance.run_launcher
    assert launcher.check_run_worker_health(instance.get_run_by_id(run.run_id)).status == WorkerStatus.RUNNING

    assert launcher.terminate(run.run_id)

    assert _finished(instance, run.run_id).status == dg.DagsterRunStatus.CANCELED
    pid = int(instance.get_run_by_id(run.run_id).tags[WARM_PID_TAG])
    for _ in range(MAX_POLLS):  # the worker reaps its finished runs
        if launcher.check_run_worker_health(instance.get_run_by_id(run.run_id)).status == WorkerStatus.FAILED:
            break
        time.sleep(POLL)
    assert launcher.check_run_worker_health(instance.get_run_by_id(run.run_id)).status == WorkerStatus.FAILED, pid


def test_a_run_the_worker_cannot_take_is_launched_the_default_way(location):
    instance, code, _ = location
    repository = _repository(code)
    run = instance.create_run_for_job(job_def=repository.get_reconstructable_job("facts_job").get_definition())

    with pytest.raises(Exception, match="requires a workspace"):  # the default way needs the UI's workspace
        instance.launch_run(run.run_id, workspace=None)
    messages = [e.message for e in instance.all_logs(run.run_id)]
    assert any("No warm run worker (the run has no code origin)" in m for m in messages)


def test_a_worker_whose_preload_started_thread_pools_does_not_serve(location):
    instance, code, _ = location
    launcher = WarmRunLauncher(preload=["warm_jobs:start_polars_pool"])
    launcher.register_instance(instance)
    repository = _repository(code)
    recon_job = repository.get_reconstructable_job("facts_job")
    run = instance.create_run_for_job(job_def=recon_job.get_definition(), job_code_origin=recon_job.get_python_origin())

    with pytest.raises(Exception, match="requires a workspace"):
        launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    launcher.dispose()
    messages = [e.message for e in instance.all_logs(run.run_id)]
    assert any("No warm run worker (the worker exited with code 2" in m for m in messages), messages


def test_the_worker_leaves_with_the_process_that_started_it(tmp_path, monkeypatch):
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(JOBS, code / "warm_jobs.py")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    starter = (
        "import sys\n"
        "from dagster._core.definitions.reconstruct import ReconstructableRepository\n"
        "from dagster._serdes import serialize_value\n"
        "from dsop_resources.run_worker import Location, warm_up\n"
        f"repo = ReconstructableRepository.for_file({str(code / 'warm_jobs.py')!r}, 'defs', working_directory={str(code)!r})\n"
        "origin = repo.get_reconstructable_job('facts_job').get_python_origin().repository_origin\n"
        f"started = []\nwarm_up(Location(serialize_value(origin), sys.executable, {str(code)!r}, {str(tmp_path)!r}, ()), started)\n"
        "print(started[0].pid, flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", starter], capture_output=True, text=True, check=True)
    worker = int(done.stdout.split()[-1])

    for _ in range(MAX_POLLS):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{worker}/stat").exists() and Path(f"/proc/{worker}/stat").read_text().split(")")[1].split()[0] == "Z":
            break
        time.sleep(POLL)
    else:
        os.kill(worker, signal.SIGKILL)
        raise AssertionError("the worker outlived the process that started it")
