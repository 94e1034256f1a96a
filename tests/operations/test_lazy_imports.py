"""Loading the definitions (every process start: CLI, daemon, each run) imports no heavy library.

Pyomo, Great Expectations, LightGBM, scikit-learn, matplotlib and scipy cost 0.5-3 s each to import;
they are imported where a plan is solved, a check validated, a model fitted or a chart drawn.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("pyomo", "great_expectations", "lightgbm", "sklearn", "matplotlib", "scipy",
         "psycopg", "duckdb", "requests", "pyarrow")  # drivers and clients: imported on first use


def test_definitions_load_without_heavy_imports():
    code = ("import json, sys\nimport dsop_jobs.definitions\n"
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_plan_gate_check_name_matches_the_gate():
    from dsop_assets.planning import assets, gate

    assert assets.PLAN_GATE_CHECK == gate.PLAN_GATE_CHECK
