"""Small jobs the warm run worker's tests launch (a code location of their own)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg


@dg.asset
def process_facts() -> dg.MaterializeResult:
    """Writes where and in which process it ran, and what the environment said."""
    out = Path(os.environ["WARM_TEST_OUT"])
    out.write_text(f"{os.getpid()} {os.getppid()} {os.environ.get('WARM_TEST_VALUE', '')}")
    return dg.MaterializeResult(metadata={"pid": os.getpid()})


@dg.asset
def waits_for_release() -> None:
    """Runs until its release file appears (at most 2,000 polls), so a test can cancel it."""
    release = Path(os.environ["WARM_TEST_OUT"]).with_suffix(".release")
    Path(os.environ["WARM_TEST_OUT"]).with_suffix(".started").write_text("started")
    for _ in range(2000):
        if release.exists():
            return
        time.sleep(0.05)


@dg.asset
def fails() -> None:
    raise RuntimeError("this asset fails on purpose")


defs = dg.Definitions(
    assets=[process_facts, waits_for_release, fails],
    jobs=[dg.define_asset_job("facts_job", [process_facts]), dg.define_asset_job("wait_job", [waits_for_release]),
          dg.define_asset_job("failing_job", [fails])],
    executor=dg.in_process_executor,
)


def start_polars_pool() -> None:
    """A preload that starts Polars' thread pool, which a forked run would lack."""
    import polars as pl

    pl.DataFrame({"x": list(range(100_000))}).select(pl.col("x").sum().alias("total"), pl.col("x").mean().alias("mean"))
