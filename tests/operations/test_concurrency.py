"""Two runs writing one DuckDB file at once queue on its lock and both succeed; analysts reading the
published copy meanwhile are never blocked and only ever see whole runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tests.erp.small_export import write_small_export

REPO = Path(__file__).resolve().parents[2]
# Week 2024-12-30 holds O1 and O2; week 2024-12-23 holds O4 (see tests/erp/small_export.py).
FIRST, SECOND = ("A", "2024-12-30"), ("B", "2024-12-23")
AFTER_FIRST, AFTER_BOTH = ("O1", "O2"), ("O1", "O2", "O4")


def _writer(erp, db, published, markers, name, week, other="") -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.operations.concurrent_writer", str(erp), str(db), str(published),
               week, str(markers), name, other]
    env = {**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1"}
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _snapshot(published: Path) -> tuple[tuple[str, ...] | None, float]:
    """What an analyst sees in the published copy, and how long opening and reading it took."""
    began = time.perf_counter()
    if not published.exists():
        return None, time.perf_counter() - began
    with duckdb.connect(str(published), read_only=True) as con:
        orders = tuple(r[0] for r in con.execute("select order_id from daily_order order by order_id").fetchall())
        masters = con.execute("select count(*), count(distinct product_id) from product_master").fetchone()
    assert masters == (3, 3), masters
    return orders, time.perf_counter() - began


def _stamp(markers: Path, name: str) -> float | None:
    path = markers / name
    return json.loads(path.read_text())["at"] if path.exists() else None


def test_two_writers_queue_and_readers_of_the_published_copy_never_wait(tmp_path):
    erp = write_small_export(tmp_path / "erp")
    db, published, markers = tmp_path / "warehouse.duckdb", tmp_path / "published.duckdb", tmp_path / "markers"
    markers.mkdir()
    # A keeps the lock until B has been inside its own run for a while, so B must wait for it.
    first = _writer(erp, db, published, markers, FIRST[0], FIRST[1], other=SECOND[0])
    deadline = time.time() + 150  # a safety net only: a loaded machine starts Python slowly
    while not (markers / "A.holding").exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    second = _writer(erp, db, published, markers, SECOND[0], SECOND[1])  # A holds the lock from here on
    reads: list[tuple[float, tuple[str, ...] | None, float]] = []
    while (first.poll() is None or second.poll() is None) and time.time() < deadline:
        orders, seconds = _snapshot(published)
        reads.append((time.time(), orders, seconds))
        time.sleep(0.05)
    outputs = [p.communicate(timeout=max(1, deadline - time.time()))[0] for p in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), "\n".join(o[-3000:] for o in outputs)

    a_started, a_done = _stamp(markers, "A.started"), _stamp(markers, "A.done")
    b_started, b_holding, b_done = _stamp(markers, "B.started"), _stamp(markers, "B.holding"), _stamp(markers, "B.done")
    # B was inside its run well before A released the lock, and wrote only after A finished.
    assert a_started < b_started and b_started + 1.5 < a_done < b_holding < b_done

    assert {orders for _, orders, _ in reads} <= {None, AFTER_FIRST, AFTER_BOTH}
    assert max(seconds for _, _, seconds in reads) < 2.0, "a reader of the published copy waited"
    # While B held the lock with its rows committed but unpublished, readers saw exactly A's run.
    during_b = [orders for at, orders, _ in reads if b_holding <= at <= b_holding + 1.0]
    assert during_b and set(during_b) == {AFTER_FIRST}

    with duckdb.connect(str(db), read_only=True) as con:
        orders = con.execute("select order_id, count(*) from daily_order group by 1 order by 1").fetchall()
        masters = con.execute("select count(*), count(distinct product_id) from product_master").fetchone()
    assert orders == [(o, 1) for o in AFTER_BOTH] and masters == (3, 3)
    assert _snapshot(published)[0] == AFTER_BOTH
