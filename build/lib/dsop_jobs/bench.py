"""``dsop bench``: wall time and peak memory of generation, raw load and full materialisation.

Each stage runs in a child process so its peak RSS (``wait4`` rusage) is its own, not the sum of
what the stages before it left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

STAGES = ("generate", "raw_load", "aggregates", "forecasts", "decisions", "evaluation")


def _run_child(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "dsop_jobs.bench", *args], env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench stage {args[0]} failed (exit {os.waitstatus_to_exitcode(status)})")
    return seconds, usage.ru_maxrss / 1024  # KiB -> MiB on Linux


def source_rows(manifest: dict) -> int:
    """ERP rows the generator wrote (external indicators and ground truth not counted)."""
    files = manifest.get("files", {})
    return sum(n for name, n in files.items() if "/" not in name)


def run_bench(scale: str, seed: int, workdir: Path | None, stages: tuple[str, ...] = STAGES) -> int:
    root = workdir or Path(tempfile.mkdtemp(prefix="dsop-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env |= {
        "DSOP_ERP_DIR": str(root / "erp"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "PYTHONWARNINGS": "ignore",
    }
    (root / "dagster_home").mkdir(exist_ok=True)
    print(f"[bench] scale={scale} seed={seed} workdir={root}", file=sys.stderr)
    results = []
    env["DSOP_DUCKDB_PATH"] = str(root / "bench.duckdb")
    Path(env["DSOP_DUCKDB_PATH"]).unlink(missing_ok=True)
    for stage in stages:
        seconds, peak_mib = _run_child([stage, scale, str(seed)], env)
        results.append((stage, seconds, peak_mib))
        print(f"[bench] {stage:<22} {seconds:8.1f} s   peak {peak_mib:8.0f} MiB", file=sys.stderr, flush=True)
    manifest = json.loads((root / "erp" / "manifest.json").read_text())
    rows = source_rows(manifest)
    print("\n| stage | wall time (s) | peak memory (MiB) |\n|---|---:|---:|")
    for stage, seconds, peak in results:
        print(f"| {stage} | {seconds:.1f} | {peak:.0f} |")
    print(f"\n{scale} scale, seed {seed}: {rows:,} source rows, history {manifest['start_date']} .. {manifest['end_date']}")
    if workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def _stage(stage: str, scale: str, seed: int) -> None:
    if stage == "generate":
        from dsop_assets.demo.generator import generate

        generate(Path(os.environ["DSOP_ERP_DIR"]), scale=scale, seed=seed)
        return
    import dagster as dg

    from dsop_jobs.definitions import defs
    from dsop_jobs.jobs import MASTER_JOB, MONTHLY_JOB, WEEKLY_JOB
    from dsop_jobs.pipeline import Stage, demo_stages, run_history

    manifest = json.loads((Path(os.environ["DSOP_ERP_DIR"]) / "manifest.json").read_text())
    start, end = date.fromisoformat(manifest["start_date"]), date.fromisoformat(manifest["end_date"])
    instance = dg.DagsterInstance.get()
    if stage == "raw_load":
        # Raw tables alone, into a scratch file: the load figure without the SQL layer.
        from dsop_resources import DuckDBWarehouse
        from dsop_resources.factory import core_resources
        from dsop_jobs.definitions import build_definitions

        scratch = str(Path(os.environ["DSOP_DUCKDB_PATH"]).with_name("raw_only.duckdb"))
        Path(scratch).unlink(missing_ok=True)
        raw_defs = build_definitions(core_resources(warehouse=DuckDBWarehouse(path=scratch)))
        raw = ("erp_raw",)
        run_history(raw_defs, instance, start, end, [Stage("raw masters", MASTER_JOB, raw),
                                                     Stage("raw weekly", WEEKLY_JOB, raw),
                                                     Stage("raw monthly", MONTHLY_JOB, raw)])
        return
    stages = demo_stages()
    chosen = {"aggregates": stages[:3], "forecasts": stages[3:5], "decisions": stages[5:6], "evaluation": stages[6:]}
    run_history(defs, instance, start, end, chosen[stage])


if __name__ == "__main__":
    _stage(sys.argv[1], sys.argv[2], int(sys.argv[3]))
