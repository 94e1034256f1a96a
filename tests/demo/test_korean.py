"""Korean export: Korean file stems and first Korean header aliases, CP949 bytes."""

from __future__ import annotations

import csv
import io

import yaml

from dsop_jobs.demo_data.writer import MAPPING
from dsop_resources.erp.contract import ALL_TABLES

from .conftest import make


def test_korean_cp949_export(tmp_path):
    out, manifest = make(tmp_path, language="ko", encoding="cp949")
    mapping = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    assert manifest["language"] == "ko" and manifest["encoding"] == "cp949"
    for table in ALL_TABLES:
        path = out / f"{mapping[table.name]['files'][1]}.csv"
        text = path.read_bytes().decode("cp949")  # raises if not CP949
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == [mapping[table.name]["headers"][c][0] for c in table.column_names]
        assert len(rows) - 1 == manifest["files"][path.name]
    products = (out / "제품마스터.csv").read_bytes().decode("cp949")
    assert "슬러리" in products  # names are Korean too, not only headers
    assert not (out / "product_master.csv").exists()
    assert (out / "external" / "exchange_rate.csv").read_text(encoding="utf-8").startswith("rate_date,currency")
