"""Deployment settings read from the environment, each with a documented default (docs/configuration.md).

Only non-secret locations live here. Secrets (API keys, Postgres passwords) are read through
``dg.EnvVar`` at run launch so they never appear in the UI, logs or metadata.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def erp_dir() -> Path:
    return Path(os.getenv("DSOP_ERP_DIR", "data/erp"))


def duckdb_path() -> str:
    return os.getenv("DSOP_DUCKDB_PATH", "data/dsop.duckdb")


def duckdb_read_path() -> str | None:
    """Published read-only copy for analysts; empty string turns publishing off."""
    value = os.getenv("DSOP_DUCKDB_READ_PATH", str(Path(duckdb_path()).with_name("dsop_read.duckdb")))
    return value or None


def duckdb_memory_limit() -> str | None:
    """DuckDB's memory cap per process (``DSOP_DUCKDB_MEMORY_LIMIT``, e.g. ``2GB``; empty: DuckDB's
    default of 80 % of the machine). 512 MB keeps a large-scale history build under 2 GiB."""
    value = os.getenv("DSOP_DUCKDB_MEMORY_LIMIT", "512MB")
    return value or None


def warehouse_kind() -> str:
    kind = os.getenv("DSOP_WAREHOUSE", "duckdb").strip().lower()
    if kind not in {"duckdb", "postgres"}:
        raise ValueError(f"DSOP_WAREHOUSE must be 'duckdb' or 'postgres', not {kind!r}")
    return kind


def sql_dir() -> Path:
    """The SQL models: ``DSOP_SQL_DIR``, else the installed ``dbt_like_sql`` package (the repo's folder
    in an editable install, the wheel's copy otherwise)."""
    if os.getenv("DSOP_SQL_DIR"):
        return Path(os.environ["DSOP_SQL_DIR"])
    import importlib.util

    spec = importlib.util.find_spec("dbt_like_sql")
    if spec is None or not spec.submodule_search_locations:
        return REPO_ROOT / "dbt_like_sql"  # missing: load_sql_assets names this path in its error
    return Path(next(iter(spec.submodule_search_locations)))


def external_csv_dir() -> Path:
    """Analyst-maintained CSVs for series with no free API (SOX, DRAM/NAND spot, BDI, ...)."""
    return Path(os.getenv("DSOP_EXTERNAL_DIR", str(erp_dir() / "external")))
