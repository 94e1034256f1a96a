from __future__ import annotations

from datetime import date

from dsop_jobs.demo_data.timeline import default_end_date

from .conftest import make


def test_same_inputs_give_identical_bytes(tiny, tmp_path):
    out_a, manifest_a = tiny
    out_b, manifest_b = make(tmp_path)
    files_a = sorted(p.relative_to(out_a) for p in out_a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(out_b) for p in out_b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (out_a / rel).read_bytes() == (out_b / rel).read_bytes(), rel
    assert manifest_a == manifest_b


def test_default_end_is_the_last_complete_iso_week():
    assert default_end_date(date(2026, 11, 27)) == date(2026, 11, 22)  # Friday -> previous Sunday
    assert default_end_date(date(2026, 11, 22)) == date(2026, 11, 15)  # Sunday itself is not complete yet
    assert default_end_date(date(2026, 11, 23)) == date(2026, 11, 22)  # Monday


def test_manifest_describes_the_run(tiny):
    out, manifest = tiny
    assert manifest["scale"] == "tiny" and manifest["seed"] == 7
    assert manifest["end_date"] == "2026-11-22" and manifest["external_source"] == "synthetic"
    orders = (out / "daily_order.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert manifest["start_date"] == min(line.split(",")[1] for line in orders)
    assert "2025-05-12" <= manifest["start_date"] <= "2025-05-16"  # inside the first history week
    for rel, rows in manifest["files"].items():
        lines = (out / rel).read_text(encoding="utf-8").count("\n")
        assert lines == rows + 1, rel
