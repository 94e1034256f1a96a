from datetime import date

import polars as pl

from dsop_assets.forecast.alerts import customer_alerts


def test_customer_alerts_by_hand():
    h1 = pl.DataFrame({"customer_id": ["C1", "C2", "C3"], "origin_date": [date(2025, 3, 1)] * 3,
                       "target_start": [date(2025, 4, 1)] * 3, "mean": [85.0, 100.0, 40.0],
                       "p10": [60.0, 80.0, 10.0], "p90": [1200.0, 120.0, 70.0]})
    # C1: Jan 100, Feb absent (0), Mar 200 -> 100 a month; C2 steady; C3 nothing in 3 months.
    history = pl.DataFrame({"customer_id": ["C1", "C1", "C2", "C2", "C2", "C3"],
                            "period_start": [date(2025, 1, 1), date(2025, 3, 1), date(2025, 1, 1), date(2025, 2, 1),
                                             date(2025, 3, 1), date(2024, 11, 1)],
                            "qty": [100.0, 200.0, 100.0, 90.0, 110.0, 50.0]})
    out = customer_alerts(h1, history)
    rows = {r["customer_id"]: r for r in out.iter_rows(named=True)}
    assert rows["C1"]["recent_avg_qty"] == 100.0 and rows["C1"]["change_pct"] == -15.0
    assert rows["C1"]["direction"] == "down" and rows["C1"]["is_alert"]
    assert rows["C1"]["message_en"] == ("customer C1: orders expected −15 % next month vs the last 3 months "
                                        "(85 vs 100 a month), P10–P90 60–1,200")
    assert rows["C1"]["message_ko"].startswith("고객 C1: 다음 달 주문이 최근 3개월 평균 대비 15% 감소 예상")
    assert rows["C2"]["direction"] == "steady" and not rows["C2"]["is_alert"]
    assert rows["C3"]["direction"] == "new" and rows["C3"]["is_alert"] and rows["C3"]["change_pct"] is None


def test_tiny_customers_are_not_alerted():
    h1 = pl.DataFrame({"customer_id": ["BIG", "TINY"], "origin_date": [date(2025, 3, 1)] * 2,
                       "target_start": [date(2025, 4, 1)] * 2, "mean": [1000.0, 3.0],
                       "p10": [800.0, 0.0], "p90": [1200.0, 9.0]})
    history = pl.DataFrame({"customer_id": ["BIG", "TINY"], "period_start": [date(2025, 3, 1)] * 2,
                            "qty": [3000.0, 3.0]})  # 1000 and 1 a month over three months
    out = {r["customer_id"]: r for r in customer_alerts(h1, history).iter_rows(named=True)}
    assert out["TINY"]["direction"] == "up" and not out["TINY"]["is_alert"]  # +200 % of 1 unit: 0.3 % share
    assert out["BIG"]["direction"] == "steady" and not out["BIG"]["is_alert"]
