"""The most of one week's demand any plan can deliver under the issue's physical rules: the proof a
week below 95 % could not have done better.

Built from the raw inputs only (never from the planning model), so the checker can use it. It keeps
every rule that limits how early stock can reach a city and drops every cost, so its optimum is an
upper bound on the week's fill of any feasible plan:

- facilities are free (at most 5 plants and 20 warehouses, one of each per candidate city) or the
  plan's own; construction starts on the horizon's first day, which is the earliest any stock exists;
- a warehouse holds 2,000 units of each SKU from its first day, made that day (so they expire);
- a plant produces from the Monday after construction starts, never on a breakdown day, within its
  daily (8 h x workers + overtime) and weekly (regular + overtime) hours; it holds no stock;
- plant -> warehouse lanes take their fastest allowed mode (truck at home, ship or air abroad; a unit
  early can wait in the warehouse), warehouse -> city lanes any allowed mode (a slower one leaves
  earlier: shelf life binds warehouse stock); containers, costs, mode locks and the lane limits of
  the planning model are dropped (they can only lower the fill);
- a city with a warehouse is served from it on the day; cities hold no stock;
- stock may not exceed the units received that are still inside their life (the FEFO condition
  every valid plan meets; a relaxation where lots can overtake each other, so still an upper bound).

Only deliveries inside the week are rewarded: serving earlier days only uses up stock.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from dsop_assets.network.lp import Milp, column_lp
from dsop_assets.network.prep import NetworkData, lanes


def _fastest(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.group_by("src", "dst", "src_city", "dst_city").agg(pl.col("transit_days").min())


def _every_transit(frame: pl.DataFrame) -> pl.DataFrame:
    """Each distinct transit time of a lane: a slower mode leaves earlier for the same arrival, and the
    shelf-life rule (as the checker applies it) binds stock in the warehouse, not units on the road."""
    return frame.select("src", "dst", "src_city", "dst_city", "transit_days").unique()


def max_week_fill(nd: NetworkData, week_start: date, facilities: pl.DataFrame | None = None, floors: dict | None = None,
                  node_limit: int = 2_000) -> dict:
    """{week_start, demand, max_delivered, max_fill, bound_fill, status}: ``bound_fill`` is proven
    (the solver's dual bound), ``max_fill`` the best design found (equal when solved to optimality).

    ``floors`` ({week_start: fill}) holds earlier weeks at least at those fills: the most this week
    can get while they keep theirs (their stock is the same stock).
    """
    floors = floors or {}
    sm = startup_model(nd, max([week_start, *floors]), facilities)
    m, got, weeks = sm["milp"], sm["got"], sm["weeks"]
    if week_start not in weeks or weeks[week_start] <= 0:
        return {"week_start": week_start, "demand": 0.0, "max_delivered": 0.0, "max_fill": 1.0, "bound_fill": 1.0, "status": "no demand"}
    target = got.filter(pl.col("week_start") == week_start)["col"].to_numpy()
    m.cost = [np.zeros(n) for n in (m.n_vars,)]
    m.cost[0][target] = -1.0
    for week, fill in floors.items():
        if week != week_start and weeks.get(week, 0) > 0:
            m.add_rows(got.filter(pl.col("week_start") == week).select("week_start", "col", pl.lit(1.0).alias("coef")), ["week_start"], lo=fill * weeks[week])
    res = _solve(m, node_limit, nd.config.threads)
    total = weeks[week_start]
    if res["status"] == "Infeasible":
        return {"week_start": week_start, "demand": total, "max_delivered": float("nan"), "max_fill": float("nan"), "bound_fill": float("nan"), "status": "Infeasible"}
    delivered, bound = -res["objective"], -res["bound"]
    return {"week_start": week_start, "demand": total, "max_delivered": delivered, "max_fill": delivered / total,
            "bound_fill": min(1.0, bound / total), "status": res["status"], "n_vars": m.n_vars}


def startup_model(nd: NetworkData, week_start: date, facilities: pl.DataFrame | None = None, extra_warehouses: bool = False) -> dict:
    """The physical model from the horizon's first day to the end of ``week_start``'s week, no objective.

    Returns {milp, got (delivery columns with week_start), weeks ({week_start: demand}), open_w, open_p}.
    ``facilities`` None: every candidate is free; else they are fixed open, and with ``extra_warehouses``
    the other candidate cities may still get a warehouse (up to the limit).
    """
    cfg, m = nd.config, Milp()
    last = min(week_start + timedelta(days=6), nd.end)
    days = pl.DataFrame({"day": pl.date_range(nd.start, last, "1d", eager=True)}).with_row_index("t").with_columns(
        pl.col("t").cast(pl.Int64), pl.col("day").dt.truncate("1w").alias("week_start"))
    T = days.height
    demand = nd.demand.filter(pl.col("day").is_between(nd.start, last)).join(days, on="day").select("city_id", "sku_id", "t", "week_start", "qty")
    weeks = dict(demand.group_by("week_start").agg(pl.col("qty").sum()).iter_rows())
    monday = nd.start + timedelta(days=7 - nd.start.weekday())
    cand = nd.sites.sort("site_id").unique(["city_id", "site_type"], keep="first", maintain_order=True)
    free = lambda site_type, u: cand.filter(pl.col("site_type") == site_type).select(  # noqa: E731
        "site_id", "city_id", pl.lit(u, dtype=pl.Int64).alias("u"), "build_cost_usd", pl.lit(0.0).alias("lo"))
    if facilities is None:
        whs, plants = free("warehouse", 0), free("plant", (monday - nd.start).days)
    else:
        fixed = lambda site_type: facilities.filter(pl.col("site_type") == site_type).select(  # noqa: E731
            "site_id", "city_id", (pl.col("usable_from") - pl.lit(nd.start)).dt.total_days().cast(pl.Int64).alias("u"),
            pl.lit(0.0).alias("build_cost_usd"), pl.lit(1.0).alias("lo"))
        whs, plants = fixed("warehouse"), fixed("plant")
        if extra_warehouses:
            whs = pl.concat([whs, free("warehouse", 0).join(whs.select("city_id"), on="city_id", how="anti")])
    ow = m.add_vars("open_w", whs, lb="lo", ub=1.0, integer=True)
    op = m.add_vars("open_p", plants, lb="lo", ub=1.0, integer=True)
    sku = nd.skus.select("sku_id", "life_days", "labour_hours_per_unit")
    node = lambda f: f.select(pl.col("site_id").alias("id"), "city_id")  # noqa: E731

    # Warehouse -> city on the fastest mode; a city's own warehouse serves it locally instead.
    wc = _every_transit(lanes(nd, node(whs), nd.cities.select(pl.col("city_id").alias("id"), "city_id"))).filter(pl.col("src_city") != pl.col("dst_city"))
    x_wc = (wc.join(demand.rename({"city_id": "dst"}), on="dst").with_columns((pl.col("t") - pl.col("transit_days")).alias("t_dep"))
            .join(whs.select(pl.col("site_id").alias("src"), "u"), on="src").filter(pl.col("t_dep") >= pl.col("u")))
    x_wc = m.add_vars("x_wc", x_wc.select("src", "dst", "transit_days", "sku_id", "t_dep", "t", "week_start", "qty"), ub="qty")
    local = m.add_vars("local", whs.join(demand, on="city_id").filter(pl.col("t") >= pl.col("u")).select("site_id", "city_id", "sku_id", "t", "week_start", "qty"),
                       ub="qty")
    # Plant -> warehouse on the fastest mode, from the plant's first working day.
    pw = _fastest(lanes(nd, node(plants), node(whs)))
    working = plants.join(days, how="cross").filter(pl.col("t") >= pl.col("u")).join(nd.down, on=["site_id", "day"], how="anti")
    x_pw = (pw.join(working.select(pl.col("site_id").alias("src"), pl.col("t").alias("t_dep")), on="src")
            .with_columns((pl.col("t_dep") + pl.col("transit_days")).alias("t_arr")).filter(pl.col("t_arr") <= T - 1)
            .join(whs.select(pl.col("site_id").alias("dst"), pl.col("u").alias("uw")), on="dst").filter(pl.col("t_arr") >= pl.col("uw"))
            .join(sku, how="cross"))
    x_pw = m.add_vars("x_pw", x_pw.select("src", "dst", "sku_id", "t_dep", "t_arr", "life_days", "labour_hours_per_unit"))

    # Stock: balance per warehouse-SKU-day; the opening 2,000 units enter with the open variable.
    wsd = whs.join(days.select("t"), how="cross").filter(pl.col("t") >= pl.col("u")).join(sku, how="cross")
    inv = m.add_vars("inv", wsd.select("site_id", "sku_id", "t", "u", "life_days"))
    k = ["site_id", "sku_id", "t"]
    one = lambda f, *cols, coef=1.0: f.select(*[pl.col(a).alias(b) for a, b in zip(cols, k)], "col", pl.lit(coef).alias("coef"))  # noqa: E731
    opening = ow.join(sku.select("sku_id"), how="cross").select("site_id", "sku_id", pl.col("u").alias("t"), "col", pl.lit(-cfg.initial_stock).alias("coef"))
    m.add_rows(pl.concat([one(inv, "site_id", "sku_id", "t"), inv.select("site_id", "sku_id", (pl.col("t") + 1).alias("t"), "col", pl.lit(-1.0).alias("coef")),
                          one(x_pw, "dst", "sku_id", "t_arr", coef=-1.0), one(x_wc, "src", "sku_id", "t_dep"), one(local, "site_id", "sku_id", "t"),
                          opening]).join(inv.select(k), on=k), k, hi=0.0)
    # Shelf life: stock <= units received that are still fresh (opening stock counts until its last day).
    exp = inv.filter(pl.col("t") - pl.col("life_days") >= 0)  # days when something could already be past its life
    fresh_open = exp.filter(pl.col("t") <= pl.col("u") + pl.col("life_days") - 1).join(ow.select("site_id", pl.col("col").alias("ocol")), on="site_id")
    fresh_arr = exp.select(*k, "life_days").join(x_pw.select(pl.col("dst").alias("site_id"), "sku_id", "t_dep", "t_arr", pl.col("col").alias("acol")), on=["site_id", "sku_id"]) \
        .filter((pl.col("t_arr") <= pl.col("t")) & (pl.col("t_dep") >= pl.col("t") - pl.col("life_days") + 1))
    m.add_rows(pl.concat([one(exp, "site_id", "sku_id", "t"),
                          fresh_open.select(*k, pl.col("ocol").alias("col"), pl.lit(-cfg.initial_stock).alias("coef")),
                          fresh_arr.select(*k, pl.col("acol").alias("col"), pl.lit(-1.0).alias("coef"))]), k, hi=0.0)
    # A closed warehouse ships nothing (strong form for local service, aggregate for lanes).
    big = float(demand["qty"].sum())
    loc = local.with_row_index("r").join(ow.select("site_id", pl.col("col").alias("ocol")), on="site_id")
    m.add_rows(pl.concat([loc.select("r", "col", pl.lit(1.0).alias("coef")), loc.select("r", pl.col("ocol").alias("col"), (-pl.col("qty")).alias("coef"))]), ["r"], hi=0.0)
    m.add_rows(pl.concat([x_wc.select(pl.col("src").alias("site_id"), "col", pl.lit(1.0).alias("coef")),
                          ow.select("site_id", "col", pl.lit(-big).alias("coef"))]), ["site_id"], hi=0.0)
    # Plants: hours per day (regular <= 8 h x workers, overtime <= the week's) and per week.
    pday = working.join(nd.sites.select("site_id", "workers", "regular_hours_per_week", "overtime_hours_per_week"), on="site_id") \
        .with_columns(pl.col("day").dt.truncate("1w").alias("week"))
    reg = m.add_vars("reg", pday.select("site_id", "t", "week", "regular_hours_per_week", (pl.col("workers") * cfg.regular_hours_per_day_per_worker).alias("ub")), ub="ub")
    ot = m.add_vars("ot", pday.select("site_id", "t", "week", "overtime_hours_per_week"), ub="overtime_hours_per_week")
    m.add_rows(pl.concat([x_pw.select(pl.col("src").alias("site_id"), pl.col("t_dep").alias("t"), "col", pl.col("labour_hours_per_unit").alias("coef")),
                          reg.select("site_id", "t", "col", pl.lit(-1.0).alias("coef")), ot.select("site_id", "t", "col", pl.lit(-1.0).alias("coef"))]),
               ["site_id", "t"], hi=0.0)
    for var, cap in ((reg, "regular_hours_per_week"), (ot, "overtime_hours_per_week")):
        rows = var.select("site_id", "week", "col", pl.lit(1.0).alias("coef"))
        caps = var.group_by("site_id", "week").agg(pl.col(cap).first())
        m.add_rows(pl.concat([rows, caps.join(op.select("site_id", pl.col("col")), on="site_id").select("site_id", "week", "col", (-pl.col(cap)).alias("coef"))]),
                   ["site_id", "week"], hi=0.0)
    # Facility limits (one per city holds by construction: one candidate per city and type).
    m.add_rows(ow.select(pl.lit(0).alias("k"), "col", pl.lit(1.0).alias("coef")), ["k"], hi=cfg.max_warehouses)
    m.add_rows(op.select(pl.lit(0).alias("k"), "col", pl.lit(1.0).alias("coef")), ["k"], hi=cfg.max_plants)
    # A city-SKU-day gets at most its demand.
    got = pl.concat([x_wc.select(pl.col("dst").alias("city_id"), "sku_id", "t", "col"), local.select("city_id", "sku_id", "t", "col")])
    m.add_rows(got.join(demand, on=["city_id", "sku_id", "t"]).with_columns(pl.lit(1.0).alias("coef")), ["city_id", "sku_id", "t"], hi="qty")
    return {"milp": m, "got": got.join(pl.concat([x_wc.select("col", "week_start"), local.select("col", "week_start")]), on="col"),
            "weeks": weeks, "open_w": ow, "open_p": op}


def _solve(m: Milp, node_limit: int, threads: int) -> dict:
    """HiGHS branch and bound on the facility binaries, capped by nodes (deterministic), no time limit."""
    import highspy

    arrays = m.arrays()
    integer = arrays[3]
    highspy.Highs.resetGlobalScheduler(True)
    h = highspy.Highs()
    h.silent()
    for key, value in {"threads": threads, "random_seed": 0, "mip_max_nodes": node_limit, "mip_rel_gap": 1e-4}.items():
        h.setOptionValue(key, value)
    lp = column_lp(m, arrays)
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
    h.passModel(lp)
    h.run()
    info = h.getInfo()
    objective = float(info.objective_function_value)
    bound = float(info.mip_dual_bound) if integer.any() and np.isfinite(info.mip_dual_bound) else objective
    return {"objective": objective, "bound": bound, "status": h.modelStatusToString(h.getModelStatus())}
