"""Which plants and warehouses to build: a facility-location MILP over the whole horizon, aggregated.

Building is a once-in-the-horizon decision; inside a 31-day chunk its cost would be weighed against
one month of savings and the plan would under-build. So the network is chosen here, on flows summed
over the horizon (units; plant capacity in hours at the demand-weighted labour content), and every
chunk then plans operations with it fixed. Construction starts on the horizon's first day: warehouses
are usable at once, plants from the following Monday.

Flows summed over two years cannot see the start-up, when the only stock is each warehouse's 2,000
opening units and a city without a warehouse waits for a truck: with 7 warehouses the first week could
reach 71 % at most (fill_bound). So a second stage adds warehouses where the start-up weeks' fill slack
(at the chunks' price) costs more than building them: the start-up weeks day by day (fill_bound's
physical model) with the chosen facilities open and the other candidate cities free.
"""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np

import polars as pl

from dsop_assets.network.fill_bound import startup_model
from dsop_assets.network.lp import Milp, solve
from dsop_assets.network.prep import NetworkData, lanes

# Average load of a container on each leg: plant runs ship full-ish loads, city drops are small.
KEEP = ["site_id", "city_id", "site_type", "build_cost_usd"]
LOAD_FACTOR = {"plant_to_warehouse": 0.8, "warehouse_to_city": 0.35}


def design_network(nd: NetworkData, backend: str = "highspy") -> tuple[pl.DataFrame, dict]:
    cfg, m = nd.config, Milp()
    sites = nd.sites
    plants = sites.filter(pl.col("site_type") == "plant")
    whs = sites.filter(pl.col("site_type") == "warehouse")
    demand = nd.demand.group_by("city_id", "sku_id").agg(pl.col("qty").sum()).join(nd.skus, on="sku_id")
    by_city = demand.group_by("city_id").agg(pl.col("qty").sum().alias("d"), (pl.col("qty") * pl.col("shortage_penalty_usd")).sum().alias("pen"))
    hours_per_unit = float((demand["qty"] * demand["labour_hours_per_unit"]).sum() / max(demand["qty"].sum(), 1.0))
    weeks = ((nd.end - nd.start).days + 1) / 7.0
    open_p = m.add_vars("open_p", plants.select("site_id", "city_id", "build_cost_usd"), ub=1.0, cost="build_cost_usd", integer=True)
    open_w = m.add_vars("open_w", whs.select("site_id", "city_id", "build_cost_usd"), ub=1.0, cost="build_cost_usd", integer=True)
    pw = _unit_cost(lanes(nd, plants.select(pl.col("site_id").alias("id"), "city_id"), whs.select(pl.col("site_id").alias("id"), "city_id")),
                    LOAD_FACTOR["plant_to_warehouse"], cfg)
    wc = _unit_cost(lanes(nd, whs.select(pl.col("site_id").alias("id"), "city_id"), by_city.select(pl.col("city_id").alias("id"), "city_id")),
                    LOAD_FACTOR["warehouse_to_city"], cfg)
    wc = wc.with_columns(pl.when(pl.col("src_city") == pl.col("dst_city")).then(0.0).otherwise(pl.col("unit_cost")).alias("unit_cost"))
    labour = plants.select("site_id", (pl.col("regular_cost_per_hour") * hours_per_unit).alias("labour"))
    f_pw = m.add_vars("f_pw", pw.join(labour, left_on="src", right_on="site_id").with_columns((pl.col("unit_cost") + pl.col("labour")).alias("c")), cost="c")
    f_wc = m.add_vars("f_wc", wc.join(by_city.rename({"city_id": "dst"}), on="dst").with_columns(
        (pl.col("unit_cost") - pl.col("pen") / pl.col("d")).alias("c")), cost="c")
    one = lambda f, v: f.select(*v, "col", pl.lit(1.0).alias("coef"))  # noqa: E731
    m.add_rows(one(f_wc, ["dst"]).join(by_city.rename({"city_id": "dst"}), on="dst"), ["dst"], hi="d")
    m.add_rows(pl.concat([one(f_pw, ["dst"]), f_wc.select(pl.col("src").alias("dst"), "col", pl.lit(-1.0).alias("coef"))]), ["dst"], lo=0.0, hi=0.0)
    cap = plants.select("site_id", ((pl.col("regular_hours_per_week") + pl.col("overtime_hours_per_week")) * weeks / hours_per_unit).alias("cap"))
    m.add_rows(pl.concat([f_pw.select(pl.col("src").alias("site_id"), "col", pl.lit(1.0).alias("coef")),
                          open_p.join(cap, on="site_id").select("site_id", "col", (-pl.col("cap")).alias("coef"))]), ["site_id"], hi=0.0)
    # Strong linking: a warehouse serves a city only if open, up to the city's demand.
    link = f_wc.join(by_city.rename({"city_id": "dst"}), on="dst").join(open_w.rename({"col": "ocol", "site_id": "src"}).select("src", "ocol"), on="src").with_row_index("r")
    m.add_rows(pl.concat([link.select("r", "col", pl.lit(1.0).alias("coef")), link.select("r", pl.col("ocol").alias("col"), (-pl.col("d")).alias("coef"))]), ["r"], hi=0.0)
    total_d = float(by_city["d"].sum())
    m.add_rows(pl.concat([f_pw.select(pl.col("dst").alias("site_id"), "col", pl.lit(1.0).alias("coef")),
                          open_w.select("site_id", "col", pl.lit(-total_d).alias("coef"))]), ["site_id"], hi=0.0)
    m.add_rows(open_p.select(pl.lit(0).alias("k"), "col", pl.lit(1.0).alias("coef")), ["k"], hi=cfg.max_plants)
    m.add_rows(open_w.select(pl.lit(0).alias("k"), "col", pl.lit(1.0).alias("coef")), ["k"], hi=cfg.max_warehouses)
    for block in (open_p, open_w):
        m.add_rows(block.select("city_id", "col", pl.lit(1.0).alias("coef")), ["city_id"], hi=1.0)
    res = solve(m, cfg, backend)
    chosen = pl.concat([_val(open_p, res.values).with_columns(pl.lit("plant").alias("site_type")),
                        _val(open_w, res.values).with_columns(pl.lit("warehouse").alias("site_type"))]).filter(pl.col("v") > 0.5)
    monday = nd.start + timedelta(days=7 - nd.start.weekday())
    # role: "core" facilities carry the horizon; "startup" warehouses only its first weeks (chunk.py).
    chosen = chosen.select(*KEEP, pl.lit("core").alias("role"))
    startup: dict = {}
    if cfg.startup_design:
        extra, startup = _startup_warehouses(nd, chosen, monday)
        chosen = pl.concat([chosen, extra.with_columns(pl.lit("startup").alias("role"))])
    facilities = chosen.select("site_id", "city_id", "site_type", "build_cost_usd",
                               pl.lit(nd.start).alias("construction_start"),
                               pl.when(pl.col("site_type") == "plant").then(pl.lit(monday)).otherwise(pl.lit(nd.start)).alias("usable_from"), "role").sort("site_type", "site_id")
    return facilities, {"status": res.status, "mip_gap": res.mip_gap, "objective": res.objective, "solve_s": res.solve_s, "startup": startup}


def _unit_cost(frame: pl.DataFrame, load: float, cfg) -> pl.DataFrame:
    per_unit = (pl.col("cost_per_container") + pl.col("border_usd")) / (cfg.container_units * load)
    return frame.with_columns(per_unit.alias("unit_cost")).sort("unit_cost").unique(["src", "dst"], keep="first").select("src", "dst", "src_city", "dst_city", "unit_cost")


def _val(block: pl.DataFrame, values) -> pl.DataFrame:
    return block.with_columns(pl.Series("v", values[block["col"].to_numpy()]))


def _startup_warehouses(nd: NetworkData, chosen: pl.DataFrame, monday) -> pl.DataFrame:
    """Warehouses worth adding for the start-up weeks: build cost vs their fill slack and shortage."""
    cfg = nd.config
    fixed = chosen.select("site_id", "city_id", "site_type", pl.lit(nd.start).alias("usable_from"))
    fixed = fixed.with_columns(pl.when(pl.col("site_type") == "plant").then(pl.lit(monday)).otherwise(pl.col("usable_from")).alias("usable_from"))
    began = time.perf_counter()
    last_plant = monday  # every plant starts on the first Monday: the start-up ends with that week
    sm = startup_model(nd, min(last_plant, nd.end), fixed, extra_warehouses=True)
    m, got, weeks, ow = sm["milp"], sm["got"], sm["weeks"], sm["open_w"]
    cost = np.zeros(m.n_vars)
    cost[ow["col"].to_numpy()] = ow["build_cost_usd"].to_numpy()
    pen = got.join(m.blocks["x_wc"].select("col", "sku_id").vstack(m.blocks["local"].select("col", "sku_id")), on="col").join(
        nd.skus.select("sku_id", "shortage_penalty_usd"), on="sku_id")
    cost[pen["col"].to_numpy()] = -pen["shortage_penalty_usd"].to_numpy()
    m.cost = [cost]
    w = pl.DataFrame({"week_start": list(weeks), "need": [cfg.fill_target * q for q in weeks.values()]})
    slack = m.add_vars("slack", w, cost=cfg.fill_slack_penalty)
    m.add_rows(pl.concat([got.select("week_start", "col", pl.lit(1.0).alias("coef")), slack.select("week_start", "col", pl.lit(1.0).alias("coef"))])
               .join(w, on="week_start"), ["week_start"], lo="need")
    res = solve(m, cfg, "highspy")
    extra = ow.with_columns(pl.Series("v", res.values[ow["col"].to_numpy()])).filter((pl.col("lo") < 0.5) & (pl.col("v") > 0.5))
    info = {"warehouses_added": extra.height, "status": res.status, "mip_gap": res.mip_gap, "n_vars": m.n_vars,
            "seconds": round(time.perf_counter() - began, 1)}
    return extra.select("site_id", "city_id", pl.lit("warehouse").alias("site_type"), "build_cost_usd").select(KEEP), info
