"""An independent check of a network plan against every hard rule of issue #14.

It never looks at the model: it recomputes from the raw inputs and the plan's tables (shipments,
production, stock, service), replays every warehouse's stock day by day, first-expiring-first-out,
and lists each breach with the rule, the day and what was found. An empty frame means a clean plan.
"""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import date, timedelta

import polars as pl

from dsop_assets.network.prep import NetworkData, lanes

FACILITY_LIMITS = "facility_limits"
ONE_PER_CITY = "one_facility_per_city_and_type"
ALLOWED_ARCS = "allowed_arcs_only"
MODE_BY_COUNTRY = "mode_suits_countries"
TRANSIT_TIME = "transit_time"
ONE_MODE_PER_LANE_DAY = "one_mode_per_lane_day"
MODE_LOCK = "mode_locked_four_weeks"
CONTAINER_LOAD = "container_load"
PLANT_WORKING = "plant_produces_only_when_working"
PLANT_NO_STOCK = "plant_holds_no_stock"
CAPACITY = "plant_hours"
STOCK_BALANCE = "stock_balance"
SHELF_LIFE = "no_stock_past_life"
DELIVERY = "delivery_within_demand"
WEEKLY_FILL = "weekly_fill_95"
# A week below 95 % that no plan could lift to 95 %, whatever its facilities: fill_bound proves it (the
# detail gives the proven maximum). Listed, not hidden, but it is physics, not a fault of the plan.
WEEKLY_FILL_UNREACHABLE = "weekly_fill_95_unreachable"
RULES = (FACILITY_LIMITS, ONE_PER_CITY, ALLOWED_ARCS, MODE_BY_COUNTRY, TRANSIT_TIME, ONE_MODE_PER_LANE_DAY, MODE_LOCK,
         CONTAINER_LOAD, PLANT_WORKING, PLANT_NO_STOCK, CAPACITY, STOCK_BALANCE, SHELF_LIFE, DELIVERY, WEEKLY_FILL,
         WEEKLY_FILL_UNREACHABLE)
# The bound's model runs from the horizon's first day to the week checked: kept to the start-up weeks,
# where stock is short by construction; a later week below 95 % is reported without a bound.
BOUND_WEEKS = 4
# The plan tables hold quantities rounded to 3 decimals; a replay sums a handful of them per day.
TOL = 1e-2

SCHEMA = {"rule": pl.Utf8, "day": pl.Date, "detail": pl.Utf8}


def _rows(rule: str, frame: pl.DataFrame, day: str | None, detail: pl.Expr) -> pl.DataFrame:
    return frame.select(pl.lit(rule).alias("rule"), (pl.col(day) if day else pl.lit(None, dtype=pl.Date)).alias("day"), detail.alias("detail"))


def check_plan(nd: NetworkData, facilities: pl.DataFrame, plan: dict[str, pl.DataFrame]) -> pl.DataFrame:
    cfg = nd.config
    out = [pl.DataFrame(schema=SCHEMA)]
    plants = facilities.filter(pl.col("site_type") == "plant")
    whs = facilities.filter(pl.col("site_type") == "warehouse")
    counts = pl.DataFrame({"n_plants": [plants.height], "n_wh": [whs.height]})
    out.append(_rows(FACILITY_LIMITS, counts.filter((pl.col("n_plants") > cfg.max_plants) | (pl.col("n_wh") > cfg.max_warehouses)), None,
                     pl.format("{} plants, {} warehouses", "n_plants", "n_wh")))
    per_city = facilities.group_by("city_id", "site_type").len().filter(pl.col("len") > 1)
    out.append(_rows(ONE_PER_CITY, per_city, None, pl.format("{} {}s in city {}", "len", "site_type", "city_id")))

    ship = plan["shipment"]
    lane_day = plan["lane_day"]
    kinds = pl.concat([plants.select(pl.col("site_id").alias("id"), pl.lit("plant").alias("kind")),
                       whs.select(pl.col("site_id").alias("id"), pl.lit("warehouse").alias("kind")),
                       nd.cities.select(pl.col("city_id").alias("id"), pl.lit("city").alias("kind"))])
    typed = ship.join(kinds.rename({"id": "src", "kind": "src_kind"}), on="src", how="left").join(
        kinds.rename({"id": "dst", "kind": "dst_kind"}), on="dst", how="left")
    allowed = ((pl.col("src_kind") == "plant") & (pl.col("dst_kind") == "warehouse")) | (
        (pl.col("src_kind") == "warehouse") & (pl.col("dst_kind") == "city"))
    out.append(_rows(ALLOWED_ARCS, typed.filter(~allowed.fill_null(False)), "ship_date",
                     pl.format("{} ({}) -> {} ({})", "src", "src_kind", "dst", "dst_kind")))
    nodes = pl.concat([facilities.select(pl.col("site_id").alias("id"), "city_id"), nd.cities.select(pl.col("city_id").alias("id"), "city_id")])
    legal = lanes(nd, nodes, nodes).select("src", "dst", "mode", "transit_days")
    moded = ship.join(legal, on=["src", "dst", "mode"], how="left")
    out.append(_rows(MODE_BY_COUNTRY, moded.filter(pl.col("transit_days").is_null()), "ship_date", pl.format("{} -> {} by {}", "src", "dst", "mode")))
    out.append(_rows(TRANSIT_TIME, moded.filter(pl.col("transit_days").is_not_null() & (
        (pl.col("arrival_date") - pl.col("ship_date")).dt.total_days() != pl.col("transit_days"))), "ship_date",
        pl.format("{} -> {} by {} arrives {}", "src", "dst", "mode", "arrival_date")))
    modes = ship.group_by("src", "dst", "ship_date").agg(pl.col("mode").n_unique().alias("k"), pl.col("mode").unique().sort().str.join("+").alias("m"))
    out.append(_rows(ONE_MODE_PER_LANE_DAY, modes.filter(pl.col("k") > 1), "ship_date", pl.format("{} -> {}: {}", "src", "dst", "m")))
    lock = ship.with_columns(pl.col("ship_date").dt.weekday().alias("wd"),
                             ((pl.col("ship_date") - pl.lit(nd.start)).dt.total_days() // cfg.lock_days).alias("block")) \
        .group_by("src", "dst", "wd", "block").agg(pl.col("mode").n_unique().alias("k"), pl.col("ship_date").min(), pl.col("mode").unique().sort().str.join("+").alias("m"))
    out.append(_rows(MODE_LOCK, lock.filter(pl.col("k") > 1), "ship_date", pl.format("{} -> {} weekday {}: {}", "src", "dst", "wd", "m")))
    load = ship.group_by("src", "dst", "mode", "ship_date").agg(pl.col("qty").sum()).join(
        lane_day.select("src", "dst", "mode", "ship_date", "containers"), on=["src", "dst", "mode", "ship_date"], how="left")
    out.append(_rows(CONTAINER_LOAD, load.filter(pl.col("qty") > pl.col("containers").fill_null(0) * cfg.container_units + TOL), "ship_date",
                     pl.format("{} units in {} containers on {} -> {}", "qty", "containers", "src", "dst")))

    made = ship.filter(pl.col("leg") == "plant_to_warehouse").group_by(pl.col("src").alias("site_id"), pl.col("ship_date").alias("day"), "sku_id").agg(pl.col("qty").sum())
    working = made.join(plants.select("site_id", "usable_from"), on="site_id", how="left").join(
        nd.down.with_columns(pl.lit(True).alias("down")), on=["site_id", "day"], how="left")
    out.append(_rows(PLANT_WORKING, working.filter((pl.col("day") < pl.col("usable_from")) | pl.col("down").fill_null(False)), "day",
                     pl.format("{} made {} of {}", "site_id", "qty", "sku_id")))
    produced = plan["production"].select("site_id", pl.col("production_date").alias("day"), "sku_id", pl.col("qty").alias("p"))
    mism = produced.join(made, on=["site_id", "day", "sku_id"], how="full", coalesce=True).filter(
        (pl.col("p").fill_null(0) - pl.col("qty").fill_null(0)).abs() > TOL)
    out.append(_rows(PLANT_NO_STOCK, mism, "day", pl.format("{} made {} of {} but shipped {}", "site_id", "p", "sku_id", "qty")))
    hours = made.join(nd.skus.select("sku_id", "labour_hours_per_unit"), on="sku_id").group_by("site_id", "day").agg(
        (pl.col("qty") * pl.col("labour_hours_per_unit")).sum().alias("h")).join(
        nd.sites.select("site_id", "workers", "regular_hours_per_week", "overtime_hours_per_week"), on="site_id")
    daily = hours.filter(pl.col("h") > pl.col("workers") * cfg.regular_hours_per_day_per_worker + pl.col("overtime_hours_per_week") + TOL)
    out.append(_rows(CAPACITY, daily, "day", pl.format("{} worked {} h in a day", "site_id", pl.col("h").round(1))))
    weekly = hours.with_columns(pl.col("day").dt.truncate("1w").alias("week")).group_by("site_id", "week").agg(
        pl.col("h").sum(), pl.col("h").clip(upper_bound=pl.col("workers") * cfg.regular_hours_per_day_per_worker).sum().alias("reg_needed"),
        pl.col("regular_hours_per_week").first(), pl.col("overtime_hours_per_week").first())
    over = weekly.filter(pl.col("h") > pl.col("regular_hours_per_week") + pl.col("overtime_hours_per_week") + TOL)
    out.append(_rows(CAPACITY, over, "week", pl.format("{} worked {} h in the week", "site_id", pl.col("h").round(1))))

    out.append(_stock_replay(nd, facilities, plan))
    svc = plan["service"]
    arrived = ship.filter(pl.col("leg") == "warehouse_to_city").group_by(pl.col("dst").alias("city_id"), "sku_id", pl.col("arrival_date").alias("demand_date")).agg(pl.col("qty").sum().alias("a"))
    local = plan["stock"].join(whs.select("site_id", "city_id"), on="site_id").group_by("city_id", "sku_id", pl.col("stock_date").alias("demand_date")).agg(
        pl.col("served_locally_qty").sum().alias("l"))
    got = svc.join(arrived, on=["city_id", "sku_id", "demand_date"], how="left").join(local, on=["city_id", "sku_id", "demand_date"], how="left") \
        .with_columns((pl.col("a").fill_null(0) + pl.col("l").fill_null(0)).alias("got"))
    out.append(_rows(DELIVERY, got.filter((pl.col("got") > pl.col("demand_qty") + TOL) | ((pl.col("got") - pl.col("delivered_qty")).abs() > TOL)),
                     "demand_date", pl.format("{} {}: got {} for demand {} (reported {})", "city_id", "sku_id", "got", "demand_qty", "delivered_qty")))
    weeks = got.group_by(pl.col("demand_date").dt.truncate("1w").alias("week")).agg(
        (pl.col("got").sum() / pl.col("demand_qty").sum()).alias("fill"))
    out.append(_weekly_fill(nd, facilities, weeks.filter(pl.col("fill") < cfg.fill_target - 1e-9).sort("week")))
    return pl.concat(out).sort("rule", "day", nulls_last=True)


def _weekly_fill(nd: NetworkData, facilities: pl.DataFrame, short: pl.DataFrame) -> pl.DataFrame:
    """Weeks below 95 %, each with the most any plan can deliver (fill_bound): with this plan's facilities
    and with any facilities. Below 95 % even with any facilities: WEEKLY_FILL_UNREACHABLE, else WEEKLY_FILL."""
    from dsop_assets.network.fill_bound import max_week_fill

    rows = []
    for week, fill in short.select("week", "fill").iter_rows():
        if (week - nd.start).days >= 7 * BOUND_WEEKS:
            rows.append((WEEKLY_FILL, week, f"fill {fill:.4f} (no bound computed past the first {BOUND_WEEKS} weeks)"))
            continue
        own = max_week_fill(nd, week, facilities)["bound_fill"]
        best = own if own >= nd.config.fill_target else max_week_fill(nd, week, None)["bound_fill"]
        rule = WEEKLY_FILL_UNREACHABLE if best < nd.config.fill_target - 1e-9 else WEEKLY_FILL
        rows.append((rule, week, f"fill {fill:.4f}; most any plan can deliver: {own:.4f} with these facilities, "
                                 f"{best:.4f} with any facilities (fill_bound, proven)"))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def _stock_replay(nd: NetworkData, facilities: pl.DataFrame, plan: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Replay each warehouse-SKU first-expiring-first-out; report negative or expired stock and
    closing stock that differs from the plan's."""
    cfg = nd.config
    life = dict(zip(nd.skus["sku_id"], nd.skus["life_days"]))
    ship = plan["shipment"]
    inflow = defaultdict(list)  # (wh, sku, day) -> [(produced, qty)]
    for r in ship.filter(pl.col("leg") == "plant_to_warehouse").iter_rows(named=True):
        inflow[(r["dst"], r["sku_id"], r["arrival_date"])].append((r["ship_date"], r["qty"]))
    outflow = defaultdict(float)
    for r in ship.filter(pl.col("leg") == "warehouse_to_city").group_by("src", "sku_id", "ship_date").agg(pl.col("qty").sum()).iter_rows(named=True):
        outflow[(r["src"], r["sku_id"], r["ship_date"])] += r["qty"]
    stock = plan["stock"]
    for r in stock.iter_rows(named=True):
        outflow[(r["site_id"], r["sku_id"], r["stock_date"])] += r["served_locally_qty"] + r["discarded_qty"]
    closing = {(r["site_id"], r["sku_id"], r["stock_date"]): r["closing_qty"] for r in stock.select("site_id", "sku_id", "stock_date", "closing_qty").iter_rows(named=True)}
    if stock.height == 0:
        return pl.DataFrame(schema=SCHEMA)
    first, last = stock["stock_date"].min(), stock["stock_date"].max()
    bad = []
    for wh in facilities.filter(pl.col("site_type") == "warehouse").iter_rows(named=True):
        for sku, days in life.items():
            lots: deque = deque()
            day: date = max(first, wh["usable_from"])
            lots.append((wh["usable_from"], cfg.initial_stock))
            while day <= last:
                for produced, qty in sorted(inflow.get((wh["site_id"], sku, day), [])):
                    lots.append((produced, qty))
                lots = deque(sorted(lots))
                need = outflow.get((wh["site_id"], sku, day), 0.0)
                while need > TOL and lots:
                    produced, qty = lots.popleft()
                    take = min(qty, need)
                    need -= take
                    if qty - take > TOL:
                        lots.appendleft((produced, qty - take))
                if need > TOL:
                    bad.append((STOCK_BALANCE, day, f"{wh['site_id']} {sku}: {need:.1f} more out than in stock"))
                expired = sum(q for p, q in lots if p + timedelta(days=int(days) - 1) < day)
                if expired > TOL:
                    bad.append((SHELF_LIFE, day, f"{wh['site_id']} {sku}: {expired:.1f} units past {days} days"))
                held = sum(q for _, q in lots)
                planned = closing.get((wh["site_id"], sku, day))
                if planned is not None and abs(planned - held) > max(TOL, 1e-4 * held) + 0.01:
                    bad.append((STOCK_BALANCE, day, f"{wh['site_id']} {sku}: replay holds {held:.1f}, plan says {planned:.1f}"))
                day += timedelta(days=1)
    return pl.DataFrame(bad, schema=SCHEMA, orient="row")
