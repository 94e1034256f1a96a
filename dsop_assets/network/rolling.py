"""The horizon in rolling chunks, each fed the previous one's closing state; and the monolithic run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from dsop_assets.network.chunk import Carry, build_chunk
from dsop_assets.network.lp import solve
from dsop_assets.network.prep import NetworkData
from dsop_assets.network.solution import extract, next_carry, stamp

TABLES = ("production", "plant_day", "shipment", "lane_day", "stock", "service", "summary")


@dataclass
class ChunkRun:
    tables: dict[str, pl.DataFrame]
    carry: Carry
    timings: dict = field(default_factory=dict)


def solve_chunk(nd: NetworkData, facilities: pl.DataFrame, start: date, end: date, carry: Carry, backend: str = "pyomo") -> ChunkRun:
    began = time.perf_counter()
    cm = build_chunk(nd, facilities, start, end, carry)
    generated = time.perf_counter()
    res = solve(cm.milp, nd.config, backend)
    tables = extract(cm, res, nd, carry)
    timings = {"generate_s": generated - began, "backend_build_s": res.build_s, "solve_s": res.solve_s,
               "extract_s": time.perf_counter() - generated - res.build_s - res.solve_s}
    tables["summary"] = tables["summary"].with_columns(*(pl.lit(v).alias(k) for k, v in timings.items()))
    return ChunkRun({k: stamp(v, start) for k, v in tables.items()}, next_carry(cm, tables, carry, nd), timings)


def solve_rolling(nd: NetworkData, facilities: pl.DataFrame, backend: str = "pyomo", progress=None,
                  first: date | None = None, last: date | None = None) -> dict[str, pl.DataFrame]:
    carry, parts = Carry(), {k: [] for k in TABLES}
    for start, end in nd.chunks(first, last):
        run = solve_chunk(nd, facilities, start, end, carry, backend)
        carry = run.carry
        for k in TABLES:
            parts[k].append(run.tables[k])
        if progress:
            progress(run.tables["summary"])
    return {k: pl.concat(v, how="diagonal_relaxed") for k, v in parts.items()}


def solve_monolithic(nd: NetworkData, facilities: pl.DataFrame, backend: str = "highspy") -> dict[str, pl.DataFrame]:
    """The whole horizon as one model (small instances): the yardstick for the rolling chunks."""
    run = solve_chunk(nd, facilities, nd.start, nd.end, Carry(), backend)
    return run.tables
