"""Benchmark of the strict ERP parse: a clean export vs the same export with 5 % bad rows.

``python -m dsop_jobs.tools.parse_bench [--rows 1000000] [--repeat 5]`` writes both files to a temp
folder, parses each with ``parse_table`` (reference checks included) and prints the median times,
their ratio (target: bad/clean <= 1.3) and, for scale, Polars' own ``read_csv`` of the clean file
with every column as text (no validation at all).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from dsop_resources.erp.contract import CONTRACTS
from dsop_resources.erp.mapping import load_mapping
from dsop_resources.erp.reader import parse_table

# Broken cells, each replacing one field of a valid row (column index, text).
BAD_CELLS = [(4, "NaN"), (4, "inf"), (4, '"1,5"'), (1, "2025-01-01xyz"), (1, "2025-13-45"), (4, "12x"),
             (4, "-3"), (3, "P999999"), (7, "1,234")]


def write_exports(folder: Path, rows: int, bad_share: float, seed: int = 7) -> tuple[Path, Path, dict]:
    rng = np.random.default_rng(seed)
    days = pl.date_range(pl.date(2024, 1, 1), pl.date(2025, 12, 31), eager=True)
    frame = pl.DataFrame({
        "order_id": [f"SO{i:09d}" for i in range(rows)],
        "order_date": days.sample(rows, with_replacement=True, seed=seed).cast(pl.Utf8),
        "customer_id": [f"C{c:04d}" for c in rng.integers(0, 500, rows)],
        "product_id": [f"P{p:05d}" for p in rng.integers(0, 2000, rows)],
        "order_qty": rng.integers(1, 5000, rows).astype(str),
        "unit_price": np.round(rng.uniform(10, 90000, rows), 2).astype(str),
        "currency": ["KRW"] * rows,
        "requested_delivery_date": days.sample(rows, with_replacement=True, seed=seed + 1).cast(pl.Utf8),
    })
    clean_dir, bad_dir = folder / "clean", folder / "bad"
    clean_dir.mkdir()
    bad_dir.mkdir()
    clean = clean_dir / "daily_order.csv"
    frame.write_csv(clean, line_terminator="\n")
    lines = clean.read_text().splitlines()
    picks = rng.choice(np.arange(1, rows + 1), int(rows * bad_share), replace=False)
    for n, line_index in enumerate(picks):
        fields = lines[line_index].split(",")
        column, text = BAD_CELLS[n % len(BAD_CELLS)]
        fields[column] = text
        lines[line_index] = ",".join(fields)
    bad = bad_dir / "daily_order.csv"
    bad.write_text("\n".join(lines) + "\n")
    known = {
        "customer.customer_id": pl.Series([f"C{c:04d}" for c in range(500)]),
        "product_master.product_id": pl.Series([f"P{p:05d}" for p in range(2000)]),
    }
    return clean, bad, known


def _median_seconds(action, repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time (all threads): CPU time is the steadier figure on a
    machine shared with other work."""
    wall, cpu = [], []
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--bad-share", type=float, default=0.05)
    args = parser.parse_args(argv)
    table, mapping = CONTRACTS["daily_order"], load_mapping()
    with tempfile.TemporaryDirectory() as tmp:
        clean, bad, known = write_exports(Path(tmp), args.rows, args.bad_share)
        parsed = parse_table(bad.parent, table, mapping, known)
        clean_s = _median_seconds(lambda: parse_table(clean.parent, table, mapping, known), args.repeat)
        bad_s = _median_seconds(lambda: parse_table(bad.parent, table, mapping, known), args.repeat)
        native_s = _median_seconds(lambda: pl.read_csv(clean, infer_schema=False), args.repeat)
    print(f"rows: {args.rows:,}; bad rows: {parsed.rejected.height:,} ({parsed.rejected.height / args.rows:.1%}); "
          f"valid: {parsed.valid.height:,}; median of {args.repeat}")
    print("| file | wall (s) | CPU (s) |\n|---|---:|---:|")
    for label, (wall, cpu) in (("clean", clean_s), ("5 % bad rows", bad_s), ("polars read_csv, all text, no checks", native_s)):
        print(f"| {label} | {wall:.2f} | {cpu:.2f} |")
    print(f"bad / clean = {bad_s[0] / clean_s[0]:.2f} wall, {bad_s[1] / clean_s[1]:.2f} CPU (target <= 1.3)")


if __name__ == "__main__":
    main()
