"""Resources: the warehouse (DuckDB or Postgres) and the clients of external data sources."""

from dsop_resources.duckdb_warehouse import DuckDBWarehouse
from dsop_resources.warehouse import Warehouse, Window, date_literal, quote_identifier

__all__ = ["DuckDBWarehouse", "Warehouse", "Window", "date_literal", "quote_identifier"]
