from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dsop_jobs.demo_data.network import write_network
from dsop_assets.network.config import NetworkConfig
from dsop_assets.network.design import design_network
from dsop_assets.network.inputs import read_network
from dsop_assets.network.prep import prepare
from dsop_assets.network.rolling import solve_rolling

START = date(2025, 1, 20)  # two short chunks: 20-31 January, 1-8 February


def flat_wti(start: date, end: date, value: float = 70.0) -> pl.DataFrame:
    return pl.DataFrame({"observation_date": pl.date_range(start, end, "1d", eager=True)}).with_columns(value=pl.lit(value))


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("network_tiny")
    write_network(out, np.random.default_rng(11), START, "tiny")
    return out


@pytest.fixture(scope="session")
def tiny_network(tiny_dir):
    # A looser gap keeps the tests quick; the rules checked do not depend on it.
    nd = prepare(read_network(tiny_dir / "network"), flat_wti(date(2024, 12, 1), date(2025, 3, 1)), NetworkConfig(mip_rel_gap=0.03))
    facilities, _ = design_network(nd)
    return nd, facilities


@pytest.fixture(scope="session")
def tiny_plan(tiny_network):
    nd, facilities = tiny_network
    return solve_rolling(nd, facilities, backend="highspy")
