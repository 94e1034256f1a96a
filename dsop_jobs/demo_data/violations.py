"""Deliberately broken rows (``inject_errors=True``), so loaders can prove they reject and report them.

Each row is a copy of a valid first row with one thing broken, appended at the end of its file;
the manifest records the physical line (header = line 1).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dsop_resources.erp.contract import CONTRACTS

from .writer import append_rows, file_name

# table, kind, column overrides applied to a copy of the table's first row
SPECS = [
    ("daily_order", "missing_key", {"order_id": ""}),
    ("daily_order", "unparseable_date", {"order_id": "SO-BAD-0001", "order_date": "2024-13-45"}),
    ("daily_order", "unknown_product", {"order_id": "SO-BAD-0002", "product_id": "FG99999"}),
    ("daily_order", "duplicate_key", {}),
    ("daily_revenue", "unparseable_number", {"invoice_id": "IV-BAD-0001", "shipped_qty": "12x"}),
    ("daily_revenue", "unknown_customer", {"invoice_id": "IV-BAD-0002", "customer_id": "C9999"}),
    ("daily_revenue", "negative_quantity", {"invoice_id": "IV-BAD-0003", "shipped_qty": "-3", "revenue_amount": "-3"}),
    ("daily_production", "negative_quantity", {"produced_qty": "-5"}),
    ("purchase_order", "unknown_supplier", {"po_id": "PO-BAD-0001", "supplier_id": "S999"}),
    ("bom", "unknown_product", {"component_product_id": "RM99999"}),
    ("customer", "missing_key", {"customer_id": ""}),
]


def _text(v) -> str:
    return "" if v is None else str(v)


def inject(out_dir: Path, frames: dict[str, pl.DataFrame], language: str, encoding: str, end_iso: str) -> list[dict]:
    found = []
    counts = {t: frames[t].height for t in frames}
    for table, kind, override in SPECS:
        df = frames[table]
        cols = CONTRACTS[table].column_names
        row = dict(zip(cols, (_text(v) for v in df.select(cols).row(0))))
        if table == "daily_production":
            row["production_date"] = end_iso  # a Sunday: no real run that day, so the key stays unique
        row.update(override)
        name = file_name(table, language)
        append_rows(out_dir / name, [[row[c] for c in cols]], encoding)
        counts[table] += 1
        found.append({"table": table, "file": name, "line": counts[table] + 1, "kind": kind})
    return found
