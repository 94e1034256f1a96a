"""Injected bad rows sit exactly where the manifest says, and are bad in the way it says."""

from __future__ import annotations

import csv

from dsop_resources.erp.contract import CONTRACTS

KINDS = {"missing_key", "unparseable_date", "unparseable_number", "negative_quantity", "unknown_product",
         "unknown_customer", "unknown_supplier", "duplicate_key"}


def test_injected_errors_are_where_the_manifest_says(tiny_bad):
    out, manifest = tiny_bad
    errors = manifest["injected_errors"]
    assert KINDS <= {e["kind"] for e in errors}
    for e in errors:
        rows = list(csv.reader((out / e["file"]).open(encoding="utf-8", newline="")))
        row = dict(zip(rows[0], rows[e["line"] - 1]))
        table = CONTRACTS[e["table"]]
        key = table.key[0]
        kind = e["kind"]
        if kind == "missing_key":
            assert row[key] == ""
        elif kind == "unparseable_date":
            assert "2024-13-45" in row.values()
        elif kind == "unparseable_number":
            assert "12x" in row.values()
        elif kind == "negative_quantity":
            assert any(v.startswith("-") for v in row.values())
        elif kind == "unknown_product":
            known = {r[0] for r in csv.reader((out / "product_master.csv").open(encoding="utf-8"))}
            assert {row.get("product_id"), row.get("component_product_id")} - {None} - known
        elif kind == "unknown_customer":
            assert row["customer_id"] == "C9999"
        elif kind == "unknown_supplier":
            assert row["supplier_id"] == "S999"
        elif kind == "duplicate_key":
            same = [r for r in rows[1:] if r[0] == row[key]]
            assert len(same) == 2
        assert rows[e["line"] - 1] != rows[e["line"] - 2] or kind == "duplicate_key"


def test_clean_run_has_no_injected_errors(tiny):
    _, manifest = tiny
    assert manifest["injected_errors"] == []
