"""Shared Postgres fixtures: find a server or skip, and give every test its own schema.

The CI database ``test`` is shared between concurrent runs, so nothing is created outside a
schema whose name is unique to this session; all of them are dropped when the session ends.
"""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from dsop_resources.duckdb_warehouse import DuckDBWarehouse
from dsop_resources.postgres_warehouse import PostgresWarehouse

_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)
SESSION_PREFIX = f"dsop_t{uuid.uuid4().hex[:8]}"
_counter = itertools.count()


def _redacted(url: str) -> str:
    return url.split("@")[-1]  # never echo credentials in a skip reason


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests needing the server carry the project's ``postgres`` marker (``-m "not postgres"``)."""
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    env = os.getenv("DSOP_TEST_POSTGRES_URL")
    failures = []
    for url in (env,) if env else _CANDIDATES:
        try:
            psycopg.connect(url, connect_timeout=3).close()
        except psycopg.Error as error:
            failures.append(f"{_redacted(url)}: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
            continue
        yield url
        with psycopg.connect(url, autocommit=True) as con:
            leftovers = con.execute(
                "select nspname from pg_namespace where nspname like %s", (SESSION_PREFIX + "%",)
            ).fetchall()
            for (schema,) in leftovers:
                con.execute(f'drop schema if exists "{schema}" cascade')
        return
    pytest.skip("no PostgreSQL reachable at 127.0.0.1:5432: " + "; ".join(failures))


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    schema = f"{SESSION_PREFIX}_{next(_counter)}"
    yield schema
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f'drop schema if exists "{schema}" cascade')


@pytest.fixture
def pg_warehouse(pg_url: str, pg_schema: str) -> PostgresWarehouse:
    return PostgresWarehouse(url=pg_url, schema=pg_schema)


@pytest.fixture
def duck_warehouse(tmp_path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(path=str(tmp_path / "parity.duckdb"))
