"""The deployed Definitions load and validate, and their public names match a reviewed snapshot.

Renaming an asset, job, schedule, sensor or check breaks stored history, UI links and alerting, so
every such change must show up as a diff of ``definitions_snapshot.txt``. After an intended change:
``python -m tests.operations.test_definitions --update``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).with_name("definitions_snapshot.txt")


def current_snapshot() -> str:
    from dsop_jobs.definitions import defs

    graph = defs.resolve_asset_graph()
    sections = {
        "asset": [k.to_user_string() for k in graph.get_all_asset_keys()],
        "check": [f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys],
        "job": [j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")],
        "schedule": [s.name for s in defs.schedules or []],
        "sensor": [s.name for s in defs.sensors or []],
    }
    return "".join(f"{kind} {name}\n" for kind, names in sections.items() for name in sorted(names))


def test_names_match_the_reviewed_snapshot():
    assert SNAPSHOT.exists(), "run: python -m tests.operations.test_definitions --update"
    expected, actual = SNAPSHOT.read_text().splitlines(), current_snapshot().splitlines()
    gone, new = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    assert not gone and not new, (
        f"removed: {gone}\nadded: {new}\nIf intended: python -m tests.operations.test_definitions --update")


def test_dagster_validates_the_workspace(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "DAGSTER_DISABLE_TELEMETRY": "1"}
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python -m tests.operations.test_definitions --update")
    SNAPSHOT.write_text(current_snapshot())
    print(f"wrote {SNAPSHOT.relative_to(REPO)}")
