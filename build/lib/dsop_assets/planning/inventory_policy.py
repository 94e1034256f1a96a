"""Textbook inventory formulas: EOQ, safety stock under demand and lead-time variability, ROP.

All rates must share a time unit: demand per day with lead times in days, or per week with weeks.
"""

from __future__ import annotations

import math

from statistics import NormalDist


def service_z(service_level: float) -> float:
    """Standard-normal quantile of a cycle service level (0.95 -> 1.645)."""
    return float(NormalDist().inv_cdf(service_level))


def eoq(annual_demand: float, ordering_cost: float, holding_cost_per_unit_year: float) -> float:
    """Economic order quantity sqrt(2 D S / H); 0 when there is no demand or no holding cost."""
    if annual_demand <= 0 or holding_cost_per_unit_year <= 0:
        return 0.0
    return math.sqrt(2.0 * annual_demand * ordering_cost / holding_cost_per_unit_year)


def round_up_to_lot(qty: float, lot: float | None) -> float:
    """Smallest whole number of lots (MOQ multiples) covering qty; qty itself without a lot."""
    if qty <= 0:
        return 0.0
    if lot is None or not lot > 0:
        return float(qty)
    return math.ceil(qty / lot - 1e-9) * lot


def safety_stock(z: float, mean_demand: float, sd_demand: float, lead_time: float, sd_lead_time: float) -> float:
    """z * sqrt(L sigma_d^2 + d^2 sigma_L^2): demand noise over the lead time plus lead-time noise."""
    variance = lead_time * sd_demand**2 + mean_demand**2 * sd_lead_time**2
    return z * math.sqrt(max(variance, 0.0))


def reorder_point(mean_demand: float, lead_time: float, safety: float) -> float:
    """Demand expected during the lead time plus the safety stock."""
    return mean_demand * lead_time + safety
