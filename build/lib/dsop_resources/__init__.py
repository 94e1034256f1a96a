"""Resources: the warehouse (DuckDB or Postgres) and the clients of external data sources."""

from dsop_resources.duckdb_warehouse import DuckDBWarehouse
from dsop_resources.warehouse import WAREHOUSE_POOL, Warehouse, Window, date_literal, quote_identifier

def __getattr__(name: str):
    # Imported on demand so the DuckDB default never loads psycopg.
    if name == "PostgresWarehouse":
        from dsop_resources.postgres_warehouse import PostgresWarehouse

        return PostgresWarehouse
    raise AttributeError(name)


__all__ = ["DuckDBWarehouse", "PostgresWarehouse", "WAREHOUSE_POOL", "Warehouse", "Window", "date_literal", "quote_identifier"]
