"""Which files and headers belong to which contract table (English and Korean, user-editable)."""

from __future__ import annotations

import os
import unicodedata
from functools import lru_cache
from pathlib import Path

import yaml

from dsop_resources.erp.contract import CONTRACTS, TableContract

DEFAULT_MAPPING = Path(__file__).with_name("column_mapping.yaml")


def _norm(text: str) -> str:
    # Korean exports mix NFC/NFD (macOS file names) and stray BOMs/whitespace in headers.
    return unicodedata.normalize("NFC", text).replace("\ufeff", "").strip().lower()


@lru_cache(maxsize=8)
def load_mapping(path: str | None = None) -> dict[str, dict]:
    """The shipped mapping, extended (not replaced) by ``DSOP_COLUMN_MAPPING`` if set."""
    mapping = yaml.safe_load(DEFAULT_MAPPING.read_text(encoding="utf-8"))
    override = path or os.getenv("DSOP_COLUMN_MAPPING")
    if override:
        extra = yaml.safe_load(Path(override).read_text(encoding="utf-8")) or {}
        for table, spec in extra.items():
            if table not in CONTRACTS:
                raise ValueError(f"{override}: unknown table {table!r} (known: {sorted(CONTRACTS)})")
            target = mapping.setdefault(table, {"files": [], "headers": {}})
            target["files"] = list(dict.fromkeys([*spec.get("files", []), *target.get("files", [])]))
            for column, aliases in (spec.get("headers") or {}).items():
                target["headers"][column] = [*aliases, *target["headers"].get(column, [])]
    return mapping


def file_stems(table: TableContract, mapping: dict) -> list[str]:
    return [table.name, *mapping.get(table.name, {}).get("files", [])]


def header_lookup(table: TableContract, mapping: dict) -> dict[str, str]:
    """Normalised header text -> canonical column name."""
    lookup = {_norm(c): c for c in table.column_names}
    for column, aliases in mapping.get(table.name, {}).get("headers", {}).items():
        for alias in aliases:
            lookup.setdefault(_norm(alias), column)
    return lookup


def find_files(erp_dir: Path, table: TableContract, mapping: dict) -> list[Path]:
    """Export files of one table in the ERP folder and its ``inbox/``, oldest first.

    A file matches when its stem equals a known name or starts with it followed by ``_``/``-``
    (e.g. ``일별수주_2024-05.csv``); later files win where they repeat a key, so a corrected
    re-export replaces what it covers.
    """
    stems = {_norm(s) for s in file_stems(table, mapping)}
    found: list[Path] = []
    for folder in (erp_dir, erp_dir / "inbox"):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.suffix.lower() != ".csv" or not path.is_file():
                continue
            stem = _norm(path.stem)
            if any(stem == s or stem.startswith(s + "_") or stem.startswith(s + "-") for s in stems):
                found.append(path)
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))
