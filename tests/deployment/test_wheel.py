"""The built wheel is complete: installed into a clean environment, away from the source tree, it
loads every asset the source tree defines (the SQL models ship inside it) and builds with no warning
from the project's own packaging."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO / "tests" / "operations" / "definitions_snapshot.txt"
# Also: the header mapping (a YAML beside the ERP reader) and the demo generator ship in the wheel.
COUNT = ("import dsop_jobs.definitions as d, dbt_like_sql, dsop_jobs.demo_data.generator as g; "
         "from dsop_resources.erp.mapping import DEFAULT_MAPPING as m; assert m.is_file(), m; "
         "print(len(d.defs.resolve_asset_graph().get_all_asset_keys()), d.__file__, dbt_like_sql.__file__, g.__file__)")


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)


def test_wheel_installs_and_loads_every_asset(tmp_path):
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(REPO), "-w", str(tmp_path / "dist")],
                 cwd=tmp_path)
    if built.returncode and ("No matching distribution" in built.stderr or "Could not find" in built.stderr):
        pytest.skip(f"no build backend available to pip's isolated build: {built.stderr.strip()[-300:]}")
    assert built.returncode == 0, built.stderr[-3000:]
    assert "BuildBackendWarning" not in built.stderr and "SetuptoolsDeprecationWarning" not in built.stderr, built.stderr
    wheel = next((tmp_path / "dist").glob("dsop-*.whl"))

    # A clean environment whose only dsop is the wheel; the shared venv's libraries are reused through a
    # plain path entry added after the install (not its .pth files, so the editable dsop there stays
    # invisible), so pip cannot mistake that dsop for this one.
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)]).returncode == 0
    python = venv / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    # --target: pip run from the shared venv would otherwise see the editable dsop there and skip files.
    installed = _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--target",
                      purelib, str(wheel)])
    assert installed.returncode == 0, installed.stderr[-3000:]
    Path(purelib, "shared_libraries.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DSOP_SQL_DIR")}
    env |= {"DAGSTER_HOME": str(tmp_path), "DSOP_DUCKDB_PATH": str(tmp_path / "w.duckdb")}
    loaded = _run([str(python), "-c", COUNT], cwd=tmp_path, env=env)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    count, *files = loaded.stdout.split()
    assert all(Path(f).is_relative_to(venv) for f in files), files
    expected = sum(line.startswith("asset ") for line in SNAPSHOT.read_text().splitlines())
    assert int(count) == expected
    entry_points = next(Path(purelib).glob("dsop-*.dist-info")) / "entry_points.txt"
    assert "dsop = dsop_jobs.cli:main" in entry_points.read_text()
