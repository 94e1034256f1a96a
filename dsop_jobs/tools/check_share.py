"""Share of each bench stage's CPU spent in quality-check steps, and how much of it is GX's import.

``python -m dsop_jobs.tools.check_share WORKDIR [RUNS] [STAGES]`` runs ``dsop bench --scale seed
--workdir WORKDIR --stages STAGES`` (default ``raw_load,aggregates,weekly_refresh``; the workdir must
hold a generated export and, for ``weekly_refresh`` alone, the warehouse of an ``aggregates`` run)
RUNS times (default 3) with thread-CPU timers in the stage processes (``check_share_site``), then
prints per stage the medians and ranges over the runs: the stage's CPU, its check steps' CPU, GX's
import and context (paid by the first check step of each process), the checks' share of the stage's
CPU, and the same share less GX's import. CPU rather than the bench's wall-clock check seconds: the
machine is shared, and thread CPU hardly moves with the load.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SITE = Path(__file__).with_name("check_share_site")


def run(workdir: Path, runs: int, stages: str) -> list[dict]:
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as handle:
        out = Path(handle.name)
    env = dict(os.environ, DSOP_CHECK_SHARE_OUT=str(out),
               PYTHONPATH=os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(SITE)) if p))
    try:
        for _ in range(runs):
            subprocess.run([sys.executable, "-m", "dsop_jobs.cli", "bench", "--scale", "seed", "--workdir",
                            str(workdir), "--stages", stages], env=env, check=True, stdout=subprocess.DEVNULL)
        return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    finally:
        out.unlink(missing_ok=True)


def summary(records: list[dict]) -> str:
    """A markdown table: per stage, median (min-max) of each figure over the records."""
    lines = ["| stage | runs | stage CPU (s) | check steps (s CPU) | GX import + context (s CPU) "
             "| checks' share of stage CPU | share less GX's import |", "|---|---:|---:|---:|---:|---:|---:|"]
    for stage in dict.fromkeys(r["stage"] for r in records):
        rows = [r for r in records if r["stage"] == stage]
        columns = [[r["cpu"] for r in rows], [r["checks"] for r in rows], [r["gx"] for r in rows],
                   [100 * r["checks"] / r["cpu"] for r in rows], [100 * (r["checks"] - r["gx"]) / r["cpu"] for r in rows]]
        cells = [_cell(values, "%" if i >= 3 else "") for i, values in enumerate(columns)]
        lines.append(f"| {stage} | {len(rows)} | " + " | ".join(cells) + " |")
    loads = [r["load"] for r in records]
    if loads:
        lines.append(f"\nload average {min(loads):.1f}..{max(loads):.1f} at the stages' ends ({os.cpu_count()} cores)")
    return "\n".join(lines)


def _cell(values: list[float], unit: str) -> str:
    digits = 1 if unit else 2
    return f"{statistics.median(values):.{digits}f}{unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    workdir = Path(argv[0]).resolve()
    runs = int(argv[1]) if len(argv) > 1 else 3
    stages = argv[2] if len(argv) > 2 else "raw_load,aggregates,weekly_refresh"
    print(summary(run(workdir, runs, stages)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
