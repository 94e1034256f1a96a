"""One week of the plant, executed: receipts, production limited by hours and materials, shipping.

The same simulator runs every policy of the replay, so they differ only in what they decide.
Weekly buckets, Monday..Sunday:

1. purchase lines whose arrival day falls in the week (or earlier) add to stock: production uses
   them in the week they arrive;
2. production: the most urgent items first (``urgency_order``: open orders due and not covered by
   stock), first cut to each line's regular + overtime hours (``fit_to_lines``), then made deepest
   BOM level first (sub-assemblies before the goods that consume them), each cut to the components
   actually on hand in whole lots (``produce``), consuming qty_per / (1 - scrap_rate) of each;
3. shipping: open order lines requested by the week's Sunday, oldest requested date first, take
   what stock there is; a line not shipped in full stays open (backlog) and ships later;
4. the week's figures (``WeekFigures``), priced as the production plan prices them (``Costs``).

On-time-in-full (OTIF) fill rate = units of the lines requested inside the week that were shipped
in full by its Sunday / units requested inside the week (a partly shipped line counts nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass
class OrderLine:
    order_id: str
    product_id: str
    order_date: date
    requested: date
    open_qty: float


@dataclass
class Receipt:
    product_id: str
    arrival: date
    qty: float
    promised: date
    supplier_id: str | None = None


@dataclass
class Costs:
    """Per-item and per-line money in KRW, the production plan's terms (PlanData): holding =
    unit_cost x rate / 52 per unit-week, backlog = shortage_cost_multiple x price per unit-week."""

    unit_cost: dict[str, float]
    hold: dict[str, float]
    backlog: dict[str, float]
    setup: dict[str, float]
    line_of: dict[str, str]
    hours: dict[str, float]
    lot: dict[str, float]
    regular: dict[str, float]
    overtime: dict[str, float]
    overtime_cost: dict[str, float]


@dataclass
class State:
    stock: dict[str, float]
    orders: list[OrderLine]
    receipts: list[Receipt] = field(default_factory=list)


@dataclass
class WeekFigures:
    week_start: date
    due_qty: float = 0.0
    otif_qty: float = 0.0
    shipped_qty: float = 0.0
    shipped_cost: float = 0.0  # cost of goods shipped, KRW (for turns)
    backlog_qty: float = 0.0
    stock_value: float = 0.0
    setups: int = 0
    overtime_hours: float = 0.0
    holding_cost: float = 0.0
    setup_cost: float = 0.0
    backlog_cost: float = 0.0
    overtime_cost: float = 0.0
    made_short_of_materials: float = 0.0  # units the policy asked for that components did not allow
    made_short_of_subassemblies: float = 0.0  # of which the binding component was made in-house

    @property
    def fill_rate(self) -> float | None:
        return self.otif_qty / self.due_qty if self.due_qty > 0 else None

    @property
    def total_cost(self) -> float:
        return self.holding_cost + self.setup_cost + self.backlog_cost + self.overtime_cost


def floor_lot(qty: float, lot: float | None) -> float:
    if not lot or lot <= 0 or math.isnan(lot):
        return qty
    return math.floor(qty / lot + 1e-9) * lot


def urgency_order(state: State, wanted: dict[str, float], sunday: date,
                  components: dict[str, list[tuple[str, float]]]) -> list[str]:
    """Items by open order quantity requested by ``sunday`` and not covered by stock, largest first
    (then by id): who gets scarce hours or components first, for every policy alike. A
    sub-assembly ranks with the most urgent good it is made for this week."""
    due: dict[str, float] = {}
    for o in state.orders:
        if o.requested <= sunday:
            due[o.product_id] = due.get(o.product_id, 0.0) + o.open_qty
    score = {i: due.get(i, 0.0) - max(state.stock.get(i, 0.0), 0.0) for i in wanted}
    for parent in sorted(wanted):
        for comp, _ in components.get(parent, []):
            if comp in score and comp not in due:
                score[comp] = max(score[comp], score[parent])
    return sorted(wanted, key=lambda i: (-score[i], i))


def fit_to_lines(wanted: dict[str, float], costs: Costs, order: list[str] | None = None) -> dict[str, float]:
    """``wanted`` cut to each line's regular + overtime hours: items in ``order`` (default: by id)
    take whole lots while hours remain. Cutting every item in proportion would floor many of them
    below one lot and leave the hours unused. Items without a known line are not limited."""
    left = {line: costs.regular[line] + costs.overtime.get(line, 0.0) for line in costs.regular}
    out = {}
    for item in order if order is not None else sorted(wanted):
        qty, line = wanted[item], costs.line_of.get(item)
        per = costs.hours.get(item, 0.0)
        if line in left and per > 0 and qty * per > left[line] + 1e-6:
            qty = floor_lot(max(left[line], 0.0) / per, costs.lot.get(item))
        if line in left:
            left[line] -= qty * per
        if qty > 1e-9:
            out[item] = qty
    return out


def produce(state: State, wanted: dict[str, float], components: dict[str, list[tuple[str, float]]],
            levels: dict[str, int], costs: Costs, order: list[str], limit_by_materials: bool = True
            ) -> tuple[dict[str, float], float, float]:
    """Makes what the components on hand allow, deepest level first, items of a level in ``order``,
    each the whole lots its components allow (sharing a short component in proportion would cut
    every item below a lot and waste it all); returns (made, units short of components, of which
    short because the binding component is an in-house sub-assembly rather than a bought material)."""
    made: dict[str, float] = {}
    short = short_sub = 0.0
    rank = {item: k for k, item in enumerate(order)}
    for level in sorted({levels.get(i, 0) for i in wanted}, reverse=True):
        for item in sorted((i for i in wanted if levels.get(i, 0) == level), key=lambda i: (rank.get(i, len(rank)), i)):
            qty = wanted[item]
            if limit_by_materials:
                room, binding = min(((max(state.stock.get(c, 0.0), 0.0) / per, c) for c, per in components.get(item, [])
                                     if per > 0), default=(qty, None))
                if room < qty - 1e-9:
                    qty = floor_lot(room, costs.lot.get(item))
                    short_sub += (wanted[item] - qty) if binding in components else 0.0
            short += wanted[item] - qty
            for comp, per in components.get(item, []):
                left = state.stock.get(comp, 0.0) - qty * per
                # The ERP's own production really happened: a component its stock estimate missed is floored at 0.
                state.stock[comp] = max(left, 0.0) if not limit_by_materials or left > -1e-9 else left
            if qty > 1e-9:
                made[item] = qty
                state.stock[item] = state.stock.get(item, 0.0) + qty
    return made, short, short_sub


def execute_week(state: State, week: date, wanted: dict[str, float], new_orders: list[OrderLine],
                 components: dict[str, list[tuple[str, float]]], levels: dict[str, int], costs: Costs,
                 limit_by_materials: bool = True) -> WeekFigures:
    """Runs ``week`` (its Monday) on ``state`` in place and returns its figures."""
    sunday = week + timedelta(days=6)
    figures = WeekFigures(week)
    arrived = [r for r in state.receipts if r.arrival <= sunday]
    state.receipts = [r for r in state.receipts if r.arrival > sunday]
    for r in arrived:
        state.stock[r.product_id] = state.stock.get(r.product_id, 0.0) + r.qty

    state.orders.extend(new_orders)
    order = urgency_order(state, wanted, sunday, components)
    wanted = fit_to_lines(wanted, costs, order) if limit_by_materials else wanted
    made, figures.made_short_of_materials, figures.made_short_of_subassemblies = produce(state, wanted, components, levels, costs, order, limit_by_materials)
    line_hours: dict[str, float] = {}
    for item, qty in made.items():
        figures.setups += 1
        figures.setup_cost += costs.setup.get(item, 0.0)
        line = costs.line_of.get(item)
        if line in costs.regular:
            line_hours[line] = line_hours.get(line, 0.0) + qty * costs.hours.get(item, 0.0)
    for line, used in line_hours.items():
        over = max(used - costs.regular[line], 0.0)
        figures.overtime_hours += over
        figures.overtime_cost += over * costs.overtime_cost.get(line, 0.0)

    state.orders.sort(key=lambda o: (o.requested, o.order_id))
    for line in state.orders:
        if line.requested > sunday or line.order_date > sunday:
            continue
        in_week = line.requested >= week
        if in_week:
            figures.due_qty += line.open_qty
        ship = min(line.open_qty, max(state.stock.get(line.product_id, 0.0), 0.0))
        if ship > 1e-9:
            state.stock[line.product_id] -= ship
            line.open_qty -= ship
            figures.shipped_qty += ship
            figures.shipped_cost += ship * costs.unit_cost.get(line.product_id, 0.0)
        if line.open_qty <= 1e-9:
            line.open_qty = 0.0
            if in_week:
                figures.otif_qty += ship
        else:
            figures.backlog_qty += line.open_qty
            figures.backlog_cost += line.open_qty * costs.backlog.get(line.product_id, 0.0)
    state.orders = [o for o in state.orders if o.open_qty > 0.0]

    for item, qty in state.stock.items():
        if qty > 0:
            figures.stock_value += qty * costs.unit_cost.get(item, 0.0)
            figures.holding_cost += qty * costs.hold.get(item, 0.0)
    return figures
