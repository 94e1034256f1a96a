"""Postgres access roles for dsop: viewer, analyst, manager, admin (see roles.sql, docs/postgres.md).

Schema-wide rights (analyst, admin) use default privileges, so tables created later are covered.
Viewer and manager rights name individual tables, which only exist after their first
materialisation: re-run ``apply_roles`` after a deployment adds tables. The Postgres warehouse
replays these per-table grants when a full rewrite has to recreate a table with a new shape.

    python -m dsop_resources.roles --print            # the SQL for the default schema
    DSOP_POSTGRES_URL=... python -m dsop_resources.roles --apply
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import psycopg

from dsop_resources.warehouse import quote_identifier

ROLE_KINDS = ("viewer", "analyst", "manager", "admin")
ROLES = tuple(f"dsop_{kind}" for kind in ROLE_KINDS)

# What a viewer (read-only dashboards, the read-only Dagster UI's users) may read.
DEFAULT_REPORTING_TABLES: tuple[str, ...] = (
    "weekly_product_summary",
    "monthly_product_summary",
    "forecast_result",
    "risk_score",
    "action_queue",
    "production_plan",
    "purchase_recommendation",
    "forecast_accuracy",
    # the planner's week: the report's index, its alerts and the KPI tables
    "weekly_planning_report",
    "planner_alert",
    "action_kpi",
    "kpi_trend",
)

# What a manager may change, beyond reading everything: table -> privilege list (may name columns).
# Action statuses are an append-only log (dsop_assets/planner/action_status.py): a manager records
# updates but cannot rewrite or delete what anyone recorded; action_queue itself is derived and
# rebuilt every week, so nobody edits it.
DEFAULT_MANAGER_GRANTS: dict[str, str] = {
    "action_status": "insert",
}

_TEMPLATE = Path(__file__).with_name("roles.sql")
# Roles are cluster-wide and concurrent GRANTs on one role fail ("tuple concurrently updated").
_LOCK_KEY = 0x64736F70  # "dsop"


@dataclass
class RolesReport:
    """What ``apply_roles`` did, for logs and asset metadata (no connection details)."""

    schema: str
    viewer_tables: list[str] = field(default_factory=list)
    manager_tables: list[str] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)


def role_names(prefix: str = "dsop") -> dict[str, str]:
    """kind -> role name. A prefix other than ``dsop`` gives a separate set of roles (roles are
    cluster-wide: tests and side-by-side deployments on one server must not share them)."""
    quote_identifier(prefix)  # refuse anything that is not a plain identifier
    return {kind: f"{prefix}_{kind}" for kind in ROLE_KINDS}


def render_roles_sql(
    schema: str = "dsop",
    reporting_tables: Sequence[str] = DEFAULT_REPORTING_TABLES,
    existing_tables: Sequence[str] | None = None,
    manager_grants: dict[str, str] | None = None,
    owner: str | None = None,
    prefix: str = "dsop",
) -> str:
    """The whole script. ``existing_tables`` limits per-table grants to tables that exist
    (``None``: assume all do, for printing a script to run by hand after the first load)."""
    quoted = quote_identifier(schema)
    for_role = f"for role {quote_identifier(owner)} " if owner else ""
    text = _TEMPLATE.read_text().replace("{schema}", quoted).replace("{for_role}", for_role)
    names = role_names(prefix)
    lines = [text, "-- per-table grants"]
    present = set(existing_tables) if existing_tables is not None else None
    for table in reporting_tables:
        if present is None or table in present:
            lines.append(f"grant select on {quoted}.{quote_identifier(table)} to dsop_viewer;")
    for table, privileges in (manager_grants or DEFAULT_MANAGER_GRANTS).items():
        if present is None or table in present:
            lines.append(f"grant {privileges} on {quoted}.{quote_identifier(table)} to dsop_manager;")
    script = "\n".join(lines) + "\n"
    for kind, name in names.items():
        script = script.replace(f"dsop_{kind}", name)
    return script


def apply_roles(
    url: str,
    schema: str = "dsop",
    reporting_tables: Sequence[str] = DEFAULT_REPORTING_TABLES,
    manager_grants: dict[str, str] | None = None,
    owner: str | None = None,
    prefix: str = "dsop",
) -> RolesReport:
    """Create the roles if missing and (re)apply every grant, in one transaction.

    Run it as the role that owns the dsop tables (the warehouse's user) or pass ``owner``, so the
    default privileges apply to the tables the warehouse creates later.
    """
    grants = manager_grants or DEFAULT_MANAGER_GRANTS
    wanted = sorted(set(reporting_tables) | set(grants))
    with psycopg.connect(url) as con:
        con.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        con.execute(f"create schema if not exists {quote_identifier(schema)}")
        existing = _existing_relations(con, schema)
        usable = [t for t in wanted if t in existing and _columns_present(grants.get(t, ""), existing[t])]
        con.execute(render_roles_sql(schema, reporting_tables, usable, grants, owner, prefix).encode())
        con.commit()
    return RolesReport(
        schema=schema,
        viewer_tables=[t for t in reporting_tables if t in usable],
        manager_tables=[t for t in grants if t in usable],
        missing_tables=[t for t in wanted if t not in usable],
    )


def _existing_relations(con: psycopg.Connection, schema: str) -> dict[str, set[str]]:
    """Tables and views of the schema with their columns (pg_catalog: sees them all, unlike
    information_schema which hides what the applying role has no rights on)."""
    rows = con.execute(
        "select c.relname, a.attname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
        "where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm', 'f')",
        (schema,),
    ).fetchall()
    relations: dict[str, set[str]] = {}
    for table, column in rows:
        relations.setdefault(table, set()).add(column)
    return relations


def _columns_present(privileges: str, columns: set[str]) -> bool:
    """A column grant such as ``update (status)`` fails if the column is not there yet."""
    if "(" not in privileges:
        return True
    named = privileges[privileges.index("(") + 1 : privileges.rindex(")")]
    return all(c.strip() in columns for c in named.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description="Create or refresh the dsop Postgres roles.")
    parser.add_argument("--schema", default=os.getenv("DSOP_POSTGRES_SCHEMA", "dsop"))
    parser.add_argument("--owner", default=None, help="role owning the tables, if not the URL's")
    parser.add_argument("--prefix", default="dsop", help="role names are <prefix>_viewer ... <prefix>_admin")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--print", action="store_true", help="print the SQL (all tables assumed)")
    action.add_argument("--apply", action="store_true", help="apply to DSOP_POSTGRES_URL")
    args = parser.parse_args()
    if args.print:
        print(render_roles_sql(args.schema, owner=args.owner, prefix=args.prefix), end="")
        return
    url = os.environ.get("DSOP_POSTGRES_URL")
    if not url:
        raise SystemExit("DSOP_POSTGRES_URL is not set")
    report = apply_roles(url, args.schema, owner=args.owner, prefix=args.prefix)
    print(f"schema {report.schema}: viewer reads {report.viewer_tables}, manager edits "
          f"{report.manager_tables}; not yet present: {report.missing_tables}")


if __name__ == "__main__":
    main()
