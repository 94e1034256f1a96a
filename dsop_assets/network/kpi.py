"""Plan KPIs: cost by component (construction included), CO2 tonnes, fill rate, facility use."""

from __future__ import annotations

import polars as pl

from dsop_assets.network.prep import NetworkData

COMPONENTS = ("production_usd", "transport_usd", "border_usd", "holding_usd", "disposal_usd", "shortage_penalty_usd",
              "mode_change_fee_usd", "co2_charge_usd")


def network_kpis(nd: NetworkData, facilities: pl.DataFrame, plan: dict[str, pl.DataFrame]) -> dict:
    s = plan["summary"]
    costs = {c: round(float(s[c].sum()), 2) for c in COMPONENTS}
    costs["construction_usd"] = round(float(facilities["build_cost_usd"].sum()), 2)
    svc = plan["service"]
    weekly = svc.group_by(pl.col("demand_date").dt.truncate("1w").alias("week")).agg(
        (pl.col("delivered_qty").sum() / pl.col("demand_qty").sum()).alias("fill")).sort("week")
    plants = plan["plant_day"].group_by("site_id").agg(pl.col("regular_hours").sum(), pl.col("overtime_hours").sum()).join(
        nd.sites.select("site_id", "regular_hours_per_week", "overtime_hours_per_week"), on="site_id")
    days = max(1, s["chunk_end"].max().toordinal() - s["chunk_start"].min().toordinal() + 1) if s.height else 1
    plants = plants.with_columns((pl.col("regular_hours") / (pl.col("regular_hours_per_week") * days / 7)).alias("regular_use"),
                                 (pl.col("overtime_hours") / (pl.col("overtime_hours_per_week") * days / 7)).alias("overtime_use"))
    whs = plan["stock"].group_by("site_id").agg(pl.col("closing_qty").mean().alias("avg_stock"), pl.col("discarded_qty").sum().alias("discarded"),
                                                pl.col("served_locally_qty").sum().alias("served_locally"))
    out_units = plan["shipment"].filter(pl.col("leg") == "warehouse_to_city").group_by(pl.col("src").alias("site_id")).agg(pl.col("qty").sum().alias("shipped_to_cities"))
    whs = whs.join(out_units, on="site_id", how="left").with_columns(pl.col("shipped_to_cities").fill_null(0.0))
    headline = {
        "total_cost_usd": round(sum(costs.values()), 2), **costs,
        "co2_tonnes_charged": float(s["co2_tonnes_charged"].sum()), "co2_kg": round(float(s["co2_kg"].sum()), 1),
        "fill_rate": round(float(svc["delivered_qty"].sum() / max(svc["demand_qty"].sum(), 1e-9)), 4),
        "min_weekly_fill": round(float(weekly["fill"].min()), 4) if weekly.height else None,
        "weeks_below_95": int((weekly["fill"] < nd.config.fill_target).sum()),
        "plants": plants.height, "warehouses": facilities.filter(pl.col("site_type") == "warehouse").height,
        "plant_regular_use": round(float(plants["regular_use"].mean()), 3) if plants.height else None,
        "plant_overtime_use": round(float(plants["overtime_use"].mean()), 3) if plants.height else None,
        "containers": float(plan["lane_day"]["containers"].sum()),
    }
    return {"headline": headline, "weekly_fill": weekly, "plants": plants, "warehouses": whs}
