"""Turns the planner's frames into the dense arrays the production MILP is written over.

Kept apart from the model so the diagnosis can reason over exactly the same numbers the solver saw.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
from statistics import NormalDist

from dsop_assets.planning.config import PlanConfig

log = logging.getLogger(__name__)

# p90 sits 1.2816 standard deviations above the median of a normal forecast distribution.
Z_P90 = float(NormalDist().inv_cdf(0.90))
UNCAPACITATED = -1


@dataclass
class PlanData:
    products: list[str]
    weeks: list[date]
    lines: list[str]
    demand: np.ndarray  # [p, t] units to ship in week t (p50, raised to firm_qty)
    firm: np.ndarray  # [p, t] units that must be covered on time
    safety_stock: np.ndarray  # [p, t] end-of-week stock target
    opening: np.ndarray  # [p] net stock at the start (negative = backlog carried in)
    line_of: np.ndarray  # [p] index into lines, UNCAPACITATED when no known line
    line_label: list[str | None]  # [p] line id as given, also for unknown lines
    hours: np.ndarray  # [p] line hours per unit
    lot: np.ndarray  # [p] lot size, nan = continuous production
    hold_cost: np.ndarray  # [p] per unit-week
    shortage_cost: np.ndarray  # [p] per unit-week backlogged
    terminal_cost: np.ndarray  # [p] per unit still backlogged at the end of the horizon, on top
    ss_cost: np.ndarray  # [p] per unit-week below safety stock
    setup_cost: np.ndarray  # [p]
    regular: np.ndarray  # [l] hours per week
    overtime: np.ndarray  # [l] hours per week
    overtime_cost: np.ndarray  # [l] per hour

    def max_production(self) -> np.ndarray:
        """Tight big-M per [p, t]: never more than the line can make nor than is still needed.

        Making more than the rest of the horizon's demand plus the largest stock target plus any
        backlog carried in only adds holding cost, so the bound cuts nothing optimal.
        """
        remaining = np.cumsum(self.demand[:, ::-1], axis=1)[:, ::-1]
        need = remaining + self.safety_stock.max(axis=1, initial=0.0)[:, None]
        need = need + np.maximum(-self.opening, 0.0)[:, None]
        need = np.maximum(need, self.firm.sum(axis=1)[:, None])
        cap = np.full(len(self.products), np.inf)
        capped = self.line_of != UNCAPACITATED
        hours = np.where(self.hours > 0, self.hours, np.nan)
        line_max = (self.regular + self.overtime)[self.line_of[capped]]
        cap[capped] = np.where(np.isnan(hours[capped]), np.inf, line_max / hours[capped])
        bound = np.minimum(need, cap[:, None])
        lotted = ~np.isnan(self.lot)
        # A lot may overshoot the need, so round the bound up to whole lots.
        bound[lotted] = np.ceil(bound[lotted] / self.lot[lotted, None] - 1e-9) * self.lot[lotted, None]
        return np.maximum(bound, 0.0)


# Quantities enter the solver on a grid of a millionth of a unit. The solver stops within a gap
# tolerance, so which of several near-optimal plans it returns follows its numerical path: a last-bit
# difference in an input (a parallel float sum upstream) once moved a sub-assembly's lots by a week
# between two demo runs. On the grid such noise no longer reaches the model.
QUANTITY_GRID_DECIMALS = 6


def _quantised(values: np.ndarray) -> np.ndarray:
    return np.round(values, QUANTITY_GRID_DECIMALS)


def _fill(col: str, default: float) -> pl.Expr:
    return pl.col(col).cast(pl.Float64).fill_null(default)


def prepare_plan_data(
    demand: pl.DataFrame,
    products: pl.DataFrame,
    lines: pl.DataFrame,
    opening_stock: pl.DataFrame,
    config: PlanConfig,
) -> PlanData:
    if demand.is_empty():
        raise ValueError("demand is empty: nothing to plan")
    first = demand["week_start"].min()
    weeks = [first + timedelta(weeks=k) for k in range(config.horizon_weeks)]
    product_ids = sorted(demand["product_id"].unique().to_list())
    unknown = set(product_ids) - set(products["product_id"].to_list())
    if unknown:
        raise ValueError(f"demand for products missing from product_master: {sorted(unknown)[:10]}")

    grid = pl.DataFrame({"product_id": product_ids}).join(
        pl.DataFrame({"week_start": weeks}), how="cross"
    )
    dem = demand.select(
        "product_id",
        "week_start",
        pl.col("p50").cast(pl.Float64),
        pl.col("p90").cast(pl.Float64),
        (pl.col("firm_qty") if "firm_qty" in demand.columns else pl.lit(0.0)).cast(pl.Float64).alias("firm"),
    ).group_by("product_id", "week_start").agg(pl.all().sum())
    dem = grid.join(dem, on=["product_id", "week_start"], how="left").fill_null(0.0)
    dem = dem.sort("product_id", "week_start")
    shape = (len(product_ids), len(weeks))
    p50 = _quantised(dem["p50"].to_numpy().reshape(shape)).clip(min=0)
    p90 = _quantised(dem["p90"].to_numpy().reshape(shape))
    firm = _quantised(dem["firm"].to_numpy().reshape(shape)).clip(min=0)
    if not config.firm_orders_hard:
        firm = np.zeros(shape)
    z = float(NormalDist().inv_cdf(config.service_level))
    sigma = np.clip(p90 - p50, 0.0, None) / Z_P90

    prod = pl.DataFrame({"product_id": product_ids}).join(products, on="product_id", how="left")
    # Decisions compare money across products, so they read the KRW columns when the caller has
    # them (decision_inputs.products_in_krw); a frame without them is taken as already in KRW.
    cost_col = "unit_cost_krw" if "unit_cost_krw" in prod.columns else "unit_cost"
    price_col = "unit_price_krw" if "unit_price_krw" in prod.columns else "unit_price"
    price = pl.coalesce(
        pl.col(price_col).cast(pl.Float64) if price_col in prod.columns else pl.lit(None),
        pl.col(cost_col).cast(pl.Float64),
    )
    prod = prod.select(
        "product_id",
        pl.col("production_line").cast(pl.Utf8),
        _fill("hours_per_unit", 0.0).alias("hours"),
        pl.when(pl.col("lot_size") > 0).then(pl.col("lot_size")).cast(pl.Float64).alias("lot"),
        _fill(cost_col, 0.0).alias("cost"),
        price.fill_null(0.0).alias("price"),
        _fill("holding_cost_rate", config.default_holding_cost_rate).alias("rate"),
        _fill("setup_cost", config.default_setup_cost).alias("setup"),
    )

    line_tab = lines.select(
        pl.col("line_id").cast(pl.Utf8),
        _fill("regular_hours_per_week", 0.0).alias("regular"),
        _fill("overtime_hours_per_week", 0.0).alias("overtime"),
        _fill("overtime_cost_per_hour", config.default_overtime_cost_per_hour).alias("ot_cost"),
    ).sort("line_id")
    line_ids = line_tab["line_id"].to_list()
    index = {lid: i for i, lid in enumerate(line_ids)}
    labels = prod["production_line"].to_list()
    orphan = sorted({lab for lab in labels if lab is not None and lab not in index})
    if orphan:
        log.warning("lines %s are not in production_line: their products are planned uncapacitated", orphan)

    opening = dict(
        zip(
            opening_stock["product_id"].to_list(),
            opening_stock["on_hand_qty"].cast(pl.Float64).fill_null(0.0).to_list(),
        )
    )
    cost = prod["cost"].to_numpy()
    return PlanData(
        products=product_ids,
        weeks=weeks,
        lines=line_ids,
        demand=np.maximum(p50, firm),
        firm=firm,
        safety_stock=z * sigma,
        opening=_quantised(np.array([opening.get(p, 0.0) for p in product_ids], dtype=float)),
        line_of=np.array([index.get(lab, UNCAPACITATED) for lab in labels], dtype=int),
        line_label=labels,
        hours=prod["hours"].to_numpy(),
        lot=prod["lot"].to_numpy().astype(float),
        hold_cost=cost * prod["rate"].to_numpy() / 52.0,
        shortage_cost=config.shortage_cost_multiple * prod["price"].to_numpy(),
        terminal_cost=config.terminal_backlog_weeks * config.shortage_cost_multiple * prod["price"].to_numpy(),
        ss_cost=config.safety_stock_penalty_multiple * cost,
        setup_cost=prod["setup"].to_numpy(),
        regular=line_tab["regular"].to_numpy(),
        overtime=line_tab["overtime"].to_numpy(),
        overtime_cost=line_tab["ot_cost"].to_numpy(),
    )

