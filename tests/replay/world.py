"""A tiny generated plant for the replay tests: one line, two goods sharing one bought material."""

from datetime import date, timedelta

import polars as pl

from dsop_assets.replay.data import ReplayData

W0 = date(2025, 1, 6)  # first decision week (a Monday)
ORIGINS = [W0 + timedelta(weeks=k) for k in range(4)]
WEEKLY = {"G1": 20.0, "G2": 10.0}


def products() -> pl.DataFrame:
    return pl.DataFrame({
        "product_id": ["G1", "G2", "M1"], "product_type": ["finished_good", "finished_good", "material"],
        "production_line": ["L1", "L1", None], "hours_per_unit": [1.0, 1.0, None], "lot_size": [10.0, 10.0, 50.0],
        "unit_cost": [52.0, 52.0, 10.0], "unit_price": [100.0, 100.0, None], "currency": ["KRW"] * 3,
        "holding_cost_rate": [1.0, 1.0, 1.0], "setup_cost": [30.0, 30.0, None], "ordering_cost": [None, None, 5.0],
    }).with_columns(pl.col("unit_cost").alias("unit_cost_krw"), pl.col("unit_price").alias("unit_price_krw"))


def world(material_on_hand: float = 500.0, lead_days: int = 14, regular_hours: float = 100.0) -> ReplayData:
    """Orders every Wednesday for the Wednesday after; a perfect flat forecast; M1 bought from S1,
    whose every real PO took ``lead_days``."""
    start_day = W0 + timedelta(days=6)
    rows = []
    for k in range(-5, 6):
        placed = W0 + timedelta(weeks=k, days=2)
        for pid, qty in WEEKLY.items():
            rows.append({"order_id": f"O{k + 5:02d}{pid}", "product_id": pid, "order_date": placed,
                         "requested_delivery_date": placed + timedelta(days=7), "order_qty": qty})
    orders = pl.DataFrame(rows)
    opening_orders = orders.filter((pl.col("order_date") <= start_day) & (pl.col("requested_delivery_date") > start_day)
                                   ).rename({"order_qty": "open_qty"})
    forecasts = {w: pl.DataFrame([{"product_id": pid, "week_start": w + timedelta(weeks=h), "horizon": h,
                                   "p10": q, "p50": q, "p90": q} for pid, q in WEEKLY.items() for h in range(1, 13)])
                 for w in ORIGINS}
    pos = pl.DataFrame([{"po_id": f"P{k}", "supplier_id": "S1", "product_id": "M1",
                         "order_date": W0 - timedelta(weeks=20 - k), "order_qty": 100.0, "unit_cost": 10.0,
                         "currency": "KRW", "promised_date": W0 - timedelta(weeks=20 - k, days=-lead_days),
                         "received_date": W0 - timedelta(weeks=20 - k, days=-lead_days), "received_qty": 100.0}
                        for k in range(10)])
    made = pl.DataFrame({"product_id": ["G1", "G2"] * 4,
                         "week_start": [w + timedelta(days=7) for w in ORIGINS for _ in range(2)],
                         "qty": [20.0, 10.0] * 4})
    return ReplayData(
        origins=ORIGINS, forecasts=forecasts, products={w: products() for w in ORIGINS},
        lines=pl.DataFrame({"line_id": ["L1"], "regular_hours_per_week": [regular_hours],
                            "overtime_hours_per_week": [20.0], "overtime_cost_per_hour": [1000.0]}),
        bom=pl.DataFrame({"parent_product_id": ["G1", "G2"], "component_product_id": ["M1", "M1"],
                          "qty_per": [1.0, 2.0], "scrap_rate": [0.0, 0.0]}),
        orders=orders, opening_orders=opening_orders,
        opening_stock=pl.DataFrame({"product_id": ["G1", "G2", "M1"], "on_hand_qty": [30.0, 15.0, material_on_hand]}),
        purchase_orders=pos, production=made, rates={w: {"KRW": 1.0} for w in ORIGINS},
    )
