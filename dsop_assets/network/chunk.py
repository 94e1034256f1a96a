"""One rolling chunk (<= 31 days) of the supply-network MILP, with facilities fixed.

Decisions per day: what each open plant makes and ships to which warehouse by which mode (plants
hold no stock, so production = what leaves the plant that day), what each warehouse ships to which
city, local service from a city's own warehouse, stock, discards, containers per lane, day and mode,
one mode per lane, weekday and four-week block, and the CO2 tonnes charged.

Arcs are pruned as they are generated, never created then fixed to zero: an arc exists only if it
is plant → warehouse or warehouse → city (never warehouse → warehouse), its mode suits the countries,
it arrives inside the chunk, its transit fits the SKU's shelf life, its plant works that day and, for
warehouse → city, the city wants that SKU on the arrival day (cities hold no stock). A lane-weekday
whose mode is locked by an earlier chunk only gets arcs of that mode.

Shelf life is exact under first-expiring-first-out (shelf.py): cumulative fresh-receipt rows where a
warehouse receives an SKU in production order, stock split by production day where lanes can overtake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from dsop_assets.network.lp import Milp
from dsop_assets.network.prep import NetworkData, day_multipliers, lanes
from dsop_assets.network.shelf import shelf_life_rows


@dataclass
class Carry:
    """State handed from one chunk to the next."""

    lots: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"site_id": pl.Utf8, "sku_id": pl.Utf8, "produced": pl.Date, "qty": pl.Float64}))
    in_transit: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"site_id": pl.Utf8, "sku_id": pl.Utf8, "arrival": pl.Date, "produced": pl.Date, "qty": pl.Float64}))
    hours: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"site_id": pl.Utf8, "week_start": pl.Date, "regular_hours": pl.Float64, "overtime_hours": pl.Float64}))
    lane_days: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"ship_date": pl.Date, "src": pl.Utf8, "dst": pl.Utf8, "mode": pl.Utf8, "containers": pl.Float64, "transport_cost_usd": pl.Float64}))
    city_transit: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"city_id": pl.Utf8, "sku_id": pl.Utf8, "arrival": pl.Date, "qty": pl.Float64}))
    # The week a chunk boundary cuts: its demand and deliveries before the boundary, so the next chunk
    # holds the whole week (not just its own days) to the 95 % line, as the checker does.
    week_fill: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"week_start": pl.Date, "qty": pl.Float64, "delivered_qty": pl.Float64}))


@dataclass
class ChunkModel:
    milp: Milp
    start: date
    end: date  # last committed day
    window_end: date  # last day the model sees (end + look-ahead)
    commit_days: int
    days: pl.DataFrame
    facilities: pl.DataFrame
    constant: float  # shortage penalty if nothing were delivered; objective = milp objective + constant
    stats: dict


def _days(nd: NetworkData, start: date, end: date) -> pl.DataFrame:
    d = pl.DataFrame({"day": pl.date_range(start, end, "1d", eager=True)}).with_row_index("t").with_columns(pl.col("t").cast(pl.Int64))
    return d.with_columns(
        pl.col("day").dt.weekday().cast(pl.Int64).alias("weekday"),
        ((pl.col("day") - pl.lit(nd.start)).dt.total_days() // nd.config.lock_days).cast(pl.Int64).alias("block"),
        pl.col("day").dt.truncate("1w").alias("week_start"))


def build_chunk(nd: NetworkData, facilities: pl.DataFrame, start: date, end: date, carry: Carry) -> ChunkModel:
    cfg, m = nd.config, Milp()
    window_end = min(end + timedelta(days=cfg.lookahead_days), max(nd.end, end))
    days = _days(nd, start, window_end)
    T = days.height
    sku = nd.skus
    plants = facilities.filter(pl.col("site_type") == "plant").join(nd.sites.drop("city_id", "site_type", "build_cost_usd"), on="site_id")
    every_wh = facilities.filter(pl.col("site_type") == "warehouse").join(nd.sites.select("site_id", pl.col("holding_cost_per_unit_day").alias("wh_hold")), on="site_id")
    # Warehouses built for the start-up only (design.py, role "startup") stop receiving and shipping once
    # it is over: they hand what they still hold to their own city or discard it, then drop out. Kept
    # in the flows they would make every later chunk 2.5x larger for a little less transport.
    whs = every_wh
    if "role" in every_wh.columns and start > startup_end(nd, facilities):
        whs = every_wh.filter(pl.col("role") != "startup")
    held = pl.concat([carry.lots.select("site_id", "sku_id", "qty"), carry.in_transit.select("site_id", "sku_id", "qty")]) \
        .filter(pl.col("qty") > 0).select("site_id", "sku_id").unique()
    passive = every_wh.join(whs.select("site_id"), on="site_id", how="anti").join(held, on="site_id")
    temp_ids = whs.filter(pl.col("role") == "startup")["site_id"] if "role" in whs.columns else pl.Series([], dtype=pl.Utf8)
    temp = temp_ids.implode()
    # Lanes are chosen among the warehouses that stay: a city whose nearest warehouses retire after
    # the start-up would otherwise be left without a lane.
    core = whs.filter(~pl.col("site_id").is_in(temp))
    after = pl.col("day") > pl.lit(startup_end(nd, facilities))
    # Units already on their way to a city (committed by the previous chunk) reduce what is left to serve.
    pre = carry.city_transit.group_by("city_id", "sku_id", pl.col("arrival").alias("day")).agg(pl.col("qty").sum().alias("pre"))
    demand = nd.demand.filter(pl.col("day").is_between(start, window_end)).join(days.select("day", "t"), on="day").join(
        pre, on=["city_id", "sku_id", "day"], how="left").with_columns(pl.col("pre").fill_null(0.0)).with_columns(
        (pl.col("qty") - pl.col("pre")).clip(0).alias("open_qty"))
    mult = day_multipliers(nd, days).join(days.select("day", "t"), on="day")
    stats: dict = {}

    # --- arcs plant -> warehouse (departure t = production day) -------------------------------
    producing = plants.join(days, how="cross").filter(pl.col("day") >= pl.col("usable_from")).join(
        nd.down, on=["site_id", "day"], how="anti").select("site_id", "t", "day", "weekday", "block", "week_start")
    pw = lanes(nd, plants.select(pl.col("site_id").alias("id"), "city_id"), whs.select(pl.col("site_id").alias("id"), "city_id"))
    wc_all = lanes(nd, whs.select(pl.col("site_id").alias("id"), "city_id"), nd.cities.select(pl.col("city_id").alias("id"), "city_id"))
    wc_all = wc_all.filter(pl.col("src_city") != pl.col("dst_city"))
    stats["lanes_candidate"] = pw.height + wc_all.height
    wc_extra = wc_all.clear()
    if cfg.serve_from_nearest > 0:
        own = core.select(pl.col("city_id").alias("dst")).unique()
        # A city with its own warehouse is served locally, so it needs one lane fewer.
        stays = wc_all.filter(~pl.col("src").is_in(temp))
        near = pl.concat([_cheapest(stays.join(own, on="dst", how="anti"), "src", "dst", cfg.serve_from_nearest),
                          _cheapest(stays.join(own, on="dst"), "src", "dst", cfg.serve_from_nearest - 1)])
        # Until the plants' first week is over, the only stock is the 2,000 opening units of each
        # warehouse-SKU: a city limited to its nearest warehouses empties them while the others'
        # opening stock expires unused (week 2 of the network demo: at most 89.9 % instead of 98.6 %).
        # So in those days every open warehouse may serve every city, on its fastest mode.
        if startup_end(nd, facilities) >= start:
            wc_extra = wc_all.join(near.select("src", "dst").unique(), on=["src", "dst"], how="anti")
            wc_extra = wc_extra.sort("transit_days", "cost_per_container", "mode").unique(["src", "dst"], keep="first")
        wc_all = near
    if cfg.source_from_nearest > 0:
        # Each warehouse's cheapest plants, and each plant's cheapest warehouses: a plant that is no
        # warehouse's first choice would otherwise be stranded with its capacity while cities go short.
        k = cfg.source_from_nearest
        pw_core, pw_temp = pw.filter(~pl.col("dst").is_in(temp)), pw.filter(pl.col("dst").is_in(temp))
        pw = pl.concat([_cheapest(pw_core, "src", "dst", k), _cheapest(pw_core, "dst", "src", k), _cheapest(pw_temp, "src", "dst", k)]).unique(["src", "dst", "mode"])
    wh_usable = whs.select("site_id", "usable_from")
    arcs_pw = (pw.join(producing.rename({"site_id": "src"}), on="src")
               .with_columns((pl.col("t") + pl.col("transit_days")).alias("t_arr"))
               .filter(pl.col("t_arr") < T)
               .join(wh_usable.rename({"site_id": "dst"}), on="dst")
               .filter(pl.col("day") >= pl.col("usable_from")).drop("usable_from")
               .filter(~(pl.col("dst").is_in(temp) & after)))
    arcs_wc = (pl.concat([wc_all.join(days, how="cross"), wc_extra.join(days.filter(pl.col("day") <= startup_end(nd, facilities)), how="cross")])
               .with_columns((pl.col("t") + pl.col("transit_days")).alias("t_arr"))
               .filter(pl.col("t_arr") < T)
               .join(wh_usable.rename({"site_id": "src"}), on="src").filter(pl.col("day") >= pl.col("usable_from")).drop("usable_from")
               .filter(~(pl.col("src").is_in(temp) & after)))
    # A lane-weekday locked by an earlier chunk keeps its mode for the rest of its block.
    locks = _carried_locks(carry, nd, days)
    if locks.height:
        clash = pl.col("lock_mode").is_not_null() & (pl.col("lock_mode") != pl.col("mode"))
        arcs_pw = arcs_pw.join(locks, on=["src", "dst", "weekday", "block"], how="left").filter(~clash).drop("lock_mode")
        arcs_wc = arcs_wc.join(locks, on=["src", "dst", "weekday", "block"], how="left").filter(~clash).drop("lock_mode")
    life = sku.select("sku_id", "life_days", "labour_hours_per_unit", "shortage_penalty_usd",
                      (pl.col("carbon_factor_prod") * cfg.co2_price_per_tonne / 1000.0).alias("co2_usd"))
    # A unit made on day p is usable up to p + life - 1: it must arrive by then, not on the day after.
    x_pw = arcs_pw.join(life, how="cross").filter(pl.col("transit_days") < pl.col("life_days"))
    x_wc = (arcs_wc.join(life, how="cross").filter(pl.col("transit_days") <= pl.col("life_days"))
            .join(demand.select(pl.col("city_id").alias("dst"), "sku_id", pl.col("t").alias("t_arr"), pl.col("open_qty").alias("dem")).filter(pl.col("dem") > 0),
                  on=["dst", "sku_id", "t_arr"]))
    stats["arcs_after_pruning"] = x_pw.height + x_wc.height
    # CO2 is priced per kg in the objective: one row summing every arc into integer tonnes would be a
    # dense row the simplex pays for at every iteration, and rounding up moves the optimum by < 200 USD.
    # The plan's charge is still ceil(kg / 1000) x 200 USD (solution.extract).
    x_pw = m.add_vars("x_pw", x_pw.select("src", "dst", "mode", "sku_id", "t", "t_arr", "life_days", "labour_hours_per_unit", "co2_usd"),
                      cost="co2_usd")
    x_wc = m.add_vars("x_wc", x_wc.select("src", "dst", "mode", "sku_id", "t", "t_arr", "dem", "shortage_penalty_usd"),
                      ub="dem", cost=0.0)
    # Delivering a unit saves its shortage penalty: cost -penalty, constant added back in the report.
    m.cost[-1] = -x_wc["shortage_penalty_usd"].to_numpy().astype(float)

    lane_keys = ["src", "dst", "mode", "t"]
    dead = _unpruned_arcs(m, nd, plants, whs, days, x_pw, x_wc) if not cfg.prune_arcs else None

    # --- containers, modes, locks, change fees -------------------------------------------------
    ship = pl.concat([x_pw.select(*lane_keys, "col", pl.lit(0.0).alias("d")), x_wc.select(*lane_keys, "col", "dem").rename({"dem": "d"})])
    lane_info = pl.concat([pw, wc_all, wc_extra]).unique(["src", "dst", "mode"])
    cap_units = _max_daily_units(plants, sku)
    n_keys = (ship.group_by(lane_keys).agg(pl.col("d").sum()).join(lane_info, on=["src", "dst", "mode"])
              .join(days.select("t", "day", "weekday", "block"), on="t")
              .join(mult.rename({"city_id": "src_city"}).drop("day"), on=["t", "src_city"], how="left")
              .with_columns(
                  (pl.col("cost_per_container") * pl.col("multiplier").fill_null(1.0) + pl.col("border_usd")).alias("unit_cost"),
                  (pl.col("co2_kg_per_container") * cfg.co2_price_per_tonne / 1000.0).alias("co2_usd"),
                  pl.when(pl.col("src").is_in(plants["site_id"].implode())).then(pl.lit(cap_units)).otherwise(pl.col("d"))
                  .truediv(cfg.container_units).ceil().clip(1).alias("n_max")))
    n_keys = n_keys.with_columns((pl.col("unit_cost") + pl.col("co2_usd")).alias("cost"))
    n = m.add_vars("n", n_keys.select(*lane_keys, "day", "weekday", "block", "unit_cost", "n_max", "co2_kg_per_container", "km", "transit_days", "border_usd", "multiplier", "cost"),
                   ub="n_max", cost="cost", integer=True)
    loads = [ship.select(*lane_keys, "col", pl.lit(1.0).alias("coef")), n.select(*lane_keys, "col", pl.lit(-cfg.container_units).alias("coef"))]
    if dead is not None:
        loads.append(dead.join(n.select(lane_keys), on=lane_keys).select(*lane_keys, "col", pl.lit(1.0).alias("coef")))
    m.add_rows(pl.concat(loads), lane_keys, hi=0.0)
    multi = n.group_by("src", "dst", "weekday", "block").agg(pl.col("mode").n_unique().alias("k")).filter(pl.col("k") > 1)
    y = m.add_vars("y", n.join(multi, on=["src", "dst", "weekday", "block"]).select("src", "dst", "weekday", "block", "mode").unique(maintain_order=True),
                   ub=1.0, integer=True)
    yk = ["src", "dst", "weekday", "block", "mode"]
    link = n.join(y.rename({"col": "ycol"}), on=yk)
    link = link.with_row_index("r")
    m.add_rows(pl.concat([link.select("r", "col", pl.lit(1.0).alias("coef")), link.select("r", pl.col("ycol").alias("col"), (-pl.col("n_max")).alias("coef"))]), ["r"], hi=0.0)
    m.add_rows(y.select("src", "dst", "weekday", "block", "col", pl.lit(1.0).alias("coef")), ["src", "dst", "weekday", "block"], hi=1.0)
    stats["fee_rows"] = _change_fees(m, nd, days, n, y, carry)

    # --- plants: hours, weekly limits ----------------------------------------------------------
    pday = producing.join(plants.select("site_id", "workers", "regular_cost_per_hour", "overtime_cost_per_hour", "overtime_hours_per_week"), on="site_id")
    reg = m.add_vars("reg", pday.select("site_id", "t", "week_start", (pl.col("workers") * cfg.regular_hours_per_day_per_worker).alias("ub"),
                                        "regular_cost_per_hour"), ub="ub", cost="regular_cost_per_hour")
    ot = m.add_vars("ot", pday.select("site_id", "t", "week_start", "overtime_hours_per_week", "overtime_cost_per_hour"),
                    ub="overtime_hours_per_week", cost="overtime_cost_per_hour")
    m.add_rows(pl.concat([x_pw.select(pl.col("src").alias("site_id"), "t", "col", pl.col("labour_hours_per_unit").alias("coef")),
                          reg.select("site_id", "t", "col", pl.lit(-1.0).alias("coef")), ot.select("site_id", "t", "col", pl.lit(-1.0).alias("coef"))]),
               ["site_id", "t"], lo=0.0, hi=0.0)
    used = carry.hours.rename({"regular_hours": "used_reg", "overtime_hours": "used_ot"})
    limits = plants.select("site_id", "regular_hours_per_week", "overtime_hours_per_week")
    for var, limit, used_col in ((reg, "regular_hours_per_week", "used_reg"), (ot, "overtime_hours_per_week", "used_ot")):
        rows = var.select("site_id", "week_start", "col", pl.lit(1.0).alias("coef")).join(limits, on="site_id").join(
            used, on=["site_id", "week_start"], how="left").with_columns(
            (pl.col(limit) - pl.col(used_col).fill_null(0.0)).clip(0).alias("cap"))
        m.add_rows(rows, ["site_id", "week_start"], hi="cap")

    # --- warehouses: stock balance, discards, local service, shelf life -------------------------
    wsd = pl.concat([whs.select("site_id", "city_id", "usable_from", "wh_hold").join(sku.select("sku_id"), how="cross"),
                     passive.select("site_id", "city_id", "usable_from", "wh_hold", "sku_id")]).join(days.select("t", "day"), how="cross").filter(
        pl.col("day") >= pl.col("usable_from")).join(sku.select("sku_id", "holding_cost_per_unit_day", "life_days", "shortage_penalty_usd"), on="sku_id")
    inv = m.add_vars("inv", wsd.select("site_id", "sku_id", "t", "day", "city_id", "life_days",
                                       (pl.col("wh_hold") + pl.col("holding_cost_per_unit_day")).alias("h")), cost="h")
    disc = m.add_vars("disc", wsd.select("site_id", "sku_id", "t"), cost=cfg.disposal_cost_per_unit)
    local = m.add_vars("local", wsd.join(demand.filter(pl.col("open_qty") > 0), on=["city_id", "sku_id", "t", "day"]).select(
        "site_id", "city_id", "sku_id", "t", "open_qty", "shortage_penalty_usd"), ub="open_qty")
    m.cost[-1] = -local["shortage_penalty_usd"].to_numpy().astype(float)
    opening = whs.filter(pl.col("usable_from").is_between(start, window_end)).select("site_id", pl.col("usable_from").alias("day")).join(
        days.select("day", "t"), on="day").join(sku.select("sku_id"), how="cross").with_columns(pl.lit(cfg.initial_stock).alias("q"))
    first = carry.lots.group_by("site_id", "sku_id").agg(pl.col("qty").sum().alias("q")).with_columns(pl.lit(0).cast(pl.Int64).alias("t"))
    transit_in = carry.in_transit.join(days.select(pl.col("day").alias("arrival"), "t"), on="arrival").group_by("site_id", "sku_id", "t").agg(pl.col("qty").sum().alias("q"))
    supply = pl.concat([opening.select("site_id", "sku_id", "t", "q"), first.select("site_id", "sku_id", "t", "q"), transit_in.select("site_id", "sku_id", "t", "q")]) \
        .group_by("site_id", "sku_id", "t").agg(pl.col("q").sum())
    prev = inv.select("site_id", "sku_id", (pl.col("t") + 1).alias("t"), "col", pl.lit(-1.0).alias("coef"))
    bal = pl.concat([
        inv.select("site_id", "sku_id", "t", "col", pl.lit(1.0).alias("coef")), prev,
        x_pw.select(pl.col("dst").alias("site_id"), "sku_id", pl.col("t_arr").alias("t"), "col", pl.lit(-1.0).alias("coef")),
        x_wc.select(pl.col("src").alias("site_id"), "sku_id", "t", "col", pl.lit(1.0).alias("coef")),
        local.select("site_id", "sku_id", "t", "col", pl.lit(1.0).alias("coef")),
        disc.select("site_id", "sku_id", "t", "col", pl.lit(1.0).alias("coef")),
    ]).join(inv.select("site_id", "sku_id", "t"), on=["site_id", "sku_id", "t"]).join(supply, on=["site_id", "sku_id", "t"], how="left") \
        .with_columns(pl.col("q").fill_null(0.0))
    m.add_rows(bal, ["site_id", "sku_id", "t"], lo="q", hi="q")
    stats.update(shelf_life_rows(m, nd, days, inv, x_pw, carry, opening))

    # --- service: daily deliveries <= demand; weekly fill >= 95 % with penalised slack ------------
    delivered = pl.concat([x_wc.select(pl.col("dst").alias("city_id"), "sku_id", pl.col("t_arr").alias("t"), "col"),
                           local.select("city_id", "sku_id", "t", "col")])
    m.add_rows(delivered.join(demand.select("city_id", "sku_id", "t", "open_qty"), on=["city_id", "sku_id", "t"]).with_columns(pl.lit(1.0).alias("coef")),
               ["city_id", "sku_id", "t"], hi="open_qty")
    before = carry.week_fill.select("week_start", pl.col("qty").alias("q0"), pl.col("delivered_qty").alias("d0"))
    weeks = demand.join(days.select("t", "week_start"), on="t").group_by("week_start").agg(
        pl.col("qty").sum().alias("wq"), pl.col("pre").sum()).join(before, on="week_start", how="left").with_columns(
        ((pl.col("wq") + pl.col("q0").fill_null(0.0)) * cfg.fill_target - pl.col("pre") - pl.col("d0").fill_null(0.0)).alias("need"))
    # A start-up week that cannot reach 95 % under any plan with these facilities (fill_bound) has its
    # slack priced lower: at one price the solver is indifferent between a unit for that lost week and
    # one for a week that can still make 95 %, and it left the plants' first week at 84.7 % (of 98.6 %).
    caps = startup_caps(nd, facilities) if start <= startup_end(nd, facilities) else pl.DataFrame(schema={"week_start": pl.Date, "max_fill": pl.Float64})
    capped = caps.filter(pl.col("max_fill") < cfg.fill_target - 1e-9).select("week_start", pl.lit(True).alias("capped"))
    weeks = weeks.join(capped, on="week_start", how="left").with_columns(
        pl.when(pl.col("capped").fill_null(False)).then(cfg.fill_slack_penalty * cfg.capped_week_slack_share).otherwise(cfg.fill_slack_penalty).alias("pen"))
    slack = m.add_vars("fill_slack", weeks.select("week_start", "wq", "pen"), cost="pen")
    fill = pl.concat([delivered.join(days.select("t", "week_start"), on="t").select("week_start", "col", pl.lit(1.0).alias("coef")),
                      slack.select("week_start", "col", pl.lit(1.0).alias("coef"))]).join(weeks, on="week_start")
    m.add_rows(fill, ["week_start"], lo="need")

    # --- closing cover --------------------------------------------------------------------------
    _terminal_cover(m, nd, days, inv, core, window_end)

    constant = float(demand.join(sku.select("sku_id", "shortage_penalty_usd"), on="sku_id").select(
        pl.col("open_qty") * pl.col("shortage_penalty_usd")).sum().item() or 0.0) if demand.height else 0.0
    stats.update(n_vars=m.n_vars, n_rows=m.n_rows, n_integer=m.n_integer, nnz=m.nnz())
    return ChunkModel(m, start, end, window_end, (end - start).days + 1, days, facilities, constant, stats)


def startup_end(nd: NetworkData, facilities: pl.DataFrame) -> date:
    """Last day of the start-up: the Sunday ending the week in which the last plant starts producing."""
    plants = facilities.filter(pl.col("site_type") == "plant")
    first = max(plants["usable_from"].max() if plants.height else nd.start, nd.start)
    return first + timedelta(days=6 - first.weekday())


_CAPS: dict = {}


def startup_caps(nd: NetworkData, facilities: pl.DataFrame) -> pl.DataFrame:
    """(week_start, max_fill) of each start-up week: the most any plan with these facilities can deliver
    (fill_bound.max_week_fill), cached per data set and facilities since every chunk asks."""
    from dsop_assets.network.fill_bound import max_week_fill

    key = tuple(facilities.sort("site_id").select("site_id", "usable_from").iter_rows())
    if _CAPS.get("nd") is not nd or _CAPS.get("key") != key:
        end, week, rows = startup_end(nd, facilities), nd.start - timedelta(days=nd.start.weekday()), []
        while week <= min(end, nd.end):
            rows.append({"week_start": week, "max_fill": max_week_fill(nd, week, facilities)["bound_fill"]})
            week += timedelta(days=7)
        _CAPS.update(nd=nd, key=key, caps=pl.DataFrame(rows, schema={"week_start": pl.Date, "max_fill": pl.Float64}))
    return _CAPS["caps"]


def _cheapest(lanes_: pl.DataFrame, keep: str, per: str, k: int) -> pl.DataFrame:
    """Every mode of the lanes from the ``k`` cheapest ``keep`` ends of each ``per`` end.

    Cheapest = the lowest cost of one container on its cheapest mode, border included, ties by km:
    distance alone would pick a warehouse across a border over a domestic one a little further away.
    """
    if k <= 0:
        return lanes_.clear()
    rank = (lanes_.group_by(keep, per).agg((pl.col("cost_per_container") + pl.col("border_usd")).min().alias("c"), pl.col("km").min())
            .sort(per, "c", "km", keep).with_columns(pl.int_range(pl.len()).over(per).alias("r")))
    return lanes_.join(rank.filter(pl.col("r") < k).select(keep, per), on=[keep, per])


def _max_daily_units(plants: pl.DataFrame, sku: pl.DataFrame) -> float:
    """Most units any plant can make in a day: bounds a plant lane's containers."""
    hours = (plants["workers"] * 8.0 + plants["overtime_hours_per_week"]).max() if plants.height else 0.0
    return float(hours or 0.0) / max(float(sku["labour_hours_per_unit"].min()), 1e-6)


def _carried_locks(carry: Carry, nd: NetworkData, days: pl.DataFrame) -> pl.DataFrame:
    """Modes used earlier in a block that continues into this chunk: (src, dst, weekday, block) -> mode."""
    if carry.lane_days.height == 0:
        return pl.DataFrame(schema={"src": pl.Utf8, "dst": pl.Utf8, "weekday": pl.Int64, "block": pl.Int64, "lock_mode": pl.Utf8})
    used = carry.lane_days.filter(pl.col("containers") > 0.5).with_columns(
        pl.col("ship_date").dt.weekday().cast(pl.Int64).alias("weekday"),
        ((pl.col("ship_date") - pl.lit(nd.start)).dt.total_days() // nd.config.lock_days).cast(pl.Int64).alias("block"))
    current = days["block"].unique().implode()
    return used.filter(pl.col("block").is_in(current)).group_by("src", "dst", "weekday", "block").agg(pl.col("mode").first().alias("lock_mode"))


def _change_fees(m: Milp, nd: NetworkData, days: pl.DataFrame, n: pl.DataFrame, y: pl.DataFrame, carry: Carry) -> int:
    """fee >= 5 % x the lane-weekday's cost over the previous block, when its mode changes.

    ``chg`` >= y[b, mode] - y[b-1, mode] is continuous (the relaxation the issue allows): the ``y`` are
    binary, so a change forces chg = 1 and the big-M row then charges the full fee.
    """
    cfg = nd.config
    starts = days.filter((pl.col("day") - pl.lit(nd.start)).dt.total_days() % cfg.lock_days == 0).filter(pl.col("block") >= 1)
    if starts.height == 0 or y.height == 0:
        return 0
    cur = y.filter(pl.col("block").is_in(starts["block"].implode()))
    prev_var = y.with_columns((pl.col("block") + 1).alias("block")).rename({"col": "pcol"})
    hist = carry.lane_days.with_columns(
        pl.col("ship_date").dt.weekday().cast(pl.Int64).alias("weekday"),
        ((pl.col("ship_date") - pl.lit(nd.start)).dt.total_days() // cfg.lock_days + 1).cast(pl.Int64).alias("block"))
    prev_const = hist.filter(pl.col("containers") > 0.5).group_by("src", "dst", "weekday", "block", "mode").agg(pl.lit(1.0).alias("pval"))
    known = hist.group_by("src", "dst", "weekday", "block").agg(pl.col("transport_cost_usd").sum().alias("known"))
    keys = ["src", "dst", "weekday", "block"]
    pairs = cur.select(keys).unique(maintain_order=True)
    chg = m.add_vars("chg", pairs, ub=1.0)
    fee = m.add_vars("fee", pairs, cost=1.0)
    terms = (cur.join(chg.rename({"col": "ccol"}), on=keys).join(prev_var, on=[*keys, "mode"], how="left")
             .join(prev_const, on=[*keys, "mode"], how="left").with_row_index("r"))
    rows = pl.concat([
        terms.select("r", pl.col("ccol").alias("col"), pl.lit(1.0).alias("coef"), pl.col("pval").fill_null(0.0).alias("rhs")),
        terms.select("r", "col", pl.lit(-1.0).alias("coef"), pl.col("pval").fill_null(0.0).alias("rhs")),
        terms.filter(pl.col("pcol").is_not_null()).select("r", pl.col("pcol").alias("col"), pl.lit(1.0).alias("coef"), pl.col("pval").fill_null(0.0).alias("rhs")),
    ]).with_columns((-pl.col("rhs")).alias("lo"))
    count = m.add_rows(rows, ["r"], lo="lo")
    prev_n = n.with_columns((pl.col("block") + 1).alias("block")).join(pairs, on=keys)
    bigm = (pairs.join(known, on=keys, how="left").join(
        prev_n.group_by(keys).agg((pl.col("unit_cost") * pl.col("n_max")).sum().alias("var_max")), on=keys, how="left")
        .with_columns((cfg.mode_change_fee_share * (pl.col("known").fill_null(0) + pl.col("var_max").fill_null(0))).alias("M")))
    fee_rows = pl.concat([
        fee.select(*keys, "col", pl.lit(1.0).alias("coef")),
        prev_n.select(*keys, "col", (-cfg.mode_change_fee_share * pl.col("unit_cost")).alias("coef")),
        chg.join(bigm, on=keys).select(*keys, "col", (-pl.col("M")).alias("coef")),
    ]).join(bigm.select(*keys, (cfg.mode_change_fee_share * pl.col("known").fill_null(0) - pl.col("M")).alias("lo")), on=keys)
    return count + m.add_rows(fee_rows, keys, lo="lo")


def _terminal_cover(m: Milp, nd: NetworkData, days: pl.DataFrame, inv: pl.DataFrame, whs: pl.DataFrame, end: date) -> None:
    """Closing stock short of the next week's demand of the cities a warehouse is nearest to is penalised."""
    cfg = nd.config
    nxt = nd.demand.filter(pl.col("day").is_between(end + timedelta(days=1), end + timedelta(days=cfg.terminal_cover_days)))
    if nxt.height == 0 or whs.height == 0:
        return
    near = lanes(nd, whs.select(pl.col("site_id").alias("id"), "city_id"), nd.cities.select(pl.col("city_id").alias("id"), "city_id")) \
        .group_by("src", "dst").agg(pl.col("km").min()).sort("km").group_by("dst").agg(pl.col("src").first())
    target = nxt.join(near.rename({"dst": "city_id", "src": "site_id"}), on="city_id").group_by("site_id", "sku_id").agg(pl.col("qty").sum().alias("target"))
    last = inv.filter(pl.col("t") == days.height - 1).join(target, on=["site_id", "sku_id"])
    gap = m.add_vars("cover_gap", last.select("site_id", "sku_id", "target").join(
        nd.skus.select("sku_id", (pl.col("shortage_penalty_usd") * cfg.terminal_penalty_share).alias("pen")), on="sku_id"), cost="pen")
    m.add_rows(pl.concat([last.select("site_id", "sku_id", "col", pl.lit(1.0).alias("coef"), "target"),
                          gap.select("site_id", "sku_id", "col", pl.lit(1.0).alias("coef"), "target")]), ["site_id", "sku_id"], lo="target")


def _unpruned_arcs(m: Milp, nd: NetworkData, plants, whs, days, x_pw, x_wc) -> pl.DataFrame:
    """The arcs pruning leaves out, created and fixed to zero: the yardstick pruning is measured against."""
    src = pl.concat([plants.select(pl.col("site_id").alias("src")), whs.select(pl.col("site_id").alias("src"))])
    dst = pl.concat([whs.select(pl.col("site_id").alias("dst")), nd.cities.select(pl.col("city_id").alias("dst"))])
    full = (src.join(dst, how="cross").join(nd.modes.select("mode"), how="cross").join(days.select("t"), how="cross")
            .join(nd.skus.select("sku_id"), how="cross"))
    kept = pl.concat([x_pw.select("src", "dst", "mode", "t", "sku_id"), x_wc.select("src", "dst", "mode", "t", "sku_id")])
    return m.add_vars("x_dead", full.join(kept, on=["src", "dst", "mode", "t", "sku_id"], how="anti"), ub=0.0)
