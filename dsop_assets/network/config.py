"""The rules of the network plan that are policy, not data (issue #14), in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkConfig:
    max_plants: int = 5
    max_warehouses: int = 20
    initial_stock: float = 2_000.0  # units per warehouse and SKU when the warehouse opens
    regular_hours_per_day_per_worker: float = 8.0  # hours beyond this are overtime
    container_units: float = 4_000.0
    border_cost_usd: float = 4_000.0  # per container crossing a border
    border_exempt: tuple[tuple[str, str], ...] = (("DEU", "FRA"),)
    bad_weather_multiplier: float = 3.0
    oil_rise_threshold: float = 0.05  # WTI week-on-week rise that doubles the next week's transport cost
    oil_multiplier: float = 2.0
    lock_days: int = 28  # a lane-weekday-mode choice holds for four weeks
    mode_change_fee_share: float = 0.05
    co2_price_per_tonne: float = 200.0
    fill_target: float = 0.95
    fill_slack_penalty: float = 500.0  # USD per unit below the weekly 95 % line (on top of the shortage penalty)
    # A start-up week that no plan with the chosen facilities can lift to 95 % (fill_bound) pays this
    # share of the slack price, so the weeks that can make 95 % get the stock first.
    # design: add warehouses where the start-up weeks' fill slack (full price) costs more than building
    # them; they serve only the start-up (role "startup", chunk.py), so later chunks keep their size.
    startup_design: bool = True
    capped_week_slack_share: float = 0.5
    disposal_cost_per_unit: float = 1.0
    chunk_days: int = 31
    # Each chunk commits its (<= 31) days but sees this many more, so shipments can leave late in a
    # chunk and arrive in the next (carried in as in-transit) instead of every chunk edge starving
    # the cities a truck needs two days to reach. Arcs arriving after the look-ahead are pruned.
    lookahead_days: int = 7
    # Cities are served from their nearest open warehouses only (their own one free of transport).
    # 0 keeps every open warehouse: the exact model; see docs/network.md for what the limit costs.
    serve_from_nearest: int = 2
    source_from_nearest: int = 2
    # False builds the unpruned model for comparison: every (site, site-or-city, mode, day, SKU) arc
    # exists and the disallowed ones are fixed to zero. Same optimum, more variables and build time.
    prune_arcs: bool = True
    # Closing stock below the next week's demand of the cities a warehouse serves is penalised at
    # this share of the shortage penalty, so a chunk does not run its warehouses dry at its end.
    terminal_cover_days: int = 7
    terminal_penalty_share: float = 0.5
    # Deterministic solver limits; the time limit is only a safety net, and a result hitting it says so.
    mip_rel_gap: float = 0.01
    mip_max_nodes: int = 200
    # lp_fix's relaxation stops after this many simplex iterations (a network chunk needs ~25-45k);
    # a chunk stopped there is flagged (hit_work_limit) and planned from the LP's last point.
    lp_iteration_limit: int = 200_000
    # lp_fix after fixing modes: False pays each lane-day's LP containers rounded up (two more LPs);
    # True runs a branch and bound over containers, which at network scale stalls at its root.
    container_mip: bool = False
    refill_containers: bool = False
    time_limit_s: float = 300.0
    threads: int = 1
    lp_close_below: float = 1e-6  # lp_fix: lane-days the LP leaves empty are closed
