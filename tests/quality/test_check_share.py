"""The check-share tool's summary (dsop_jobs/tools/check_share.py); its timers run in bench processes."""

from dsop_jobs.tools.check_share import summary


def test_summary_gives_medians_ranges_and_shares_per_stage():
    records = [
        {"stage": "raw_load", "cpu": 10.0, "checks": 2.0, "gx": 1.0, "load": 2.0, "steps": {}},
        {"stage": "raw_load", "cpu": 8.0, "checks": 2.0, "gx": 1.2, "load": 3.0, "steps": {}},
        {"stage": "raw_load", "cpu": 9.0, "checks": 1.8, "gx": 0.9, "load": 2.5, "steps": {}},
        {"stage": "weekly_refresh", "cpu": 5.0, "checks": 1.0, "gx": 0.9, "load": 2.0, "steps": {}},
    ]
    table = summary(records).splitlines()
    assert table[2] == ("| raw_load | 3 | 9.00 (8.00-10.00) | 2.00 (1.80-2.00) | 1.00 (0.90-1.20) "
                        "| 20.0% (20.0-25.0) | 10.0% (10.0-10.0) |")
    assert table[3].startswith("| weekly_refresh | 1 | 5.00 (5.00-5.00) | 1.00 (1.00-1.00) | 0.90 (0.90-0.90) | 20.0%")
    assert "load average 2.0..3.0" in table[-1]
