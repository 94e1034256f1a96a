"""What the warehouse holds, for the end of ``dsop demo``."""

import dagster as dg

from dsop_resources import Warehouse


def describe_warehouse(defs: dg.Definitions) -> str:
    warehouse: Warehouse = defs.resources["warehouse"]
    # PostgresWarehouse keeps its schema in ``schema_`` (``schema`` is pydantic's BaseModel.schema method).
    where = getattr(warehouse, "path", None) or f"postgres schema {getattr(warehouse, 'schema_', '?')}"
    tables = warehouse.query(
        "select table_name, table_type from information_schema.tables "
        "where table_schema not in ('information_schema', 'pg_catalog') order by table_name"
    )
    lines = [f"Warehouse: {where}", f"{'table':<32} {'kind':<6} {'rows':>12}"]
    for name, kind in tables.rows():
        rows = warehouse.row_count(name)
        lines.append(f"{name:<32} {'view' if 'VIEW' in kind.upper() else 'table':<6} {rows:>12,}")
    return "\n".join(lines)
