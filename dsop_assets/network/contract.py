"""The supply-network data contract: seven source tables under ``<erp dir>/network/``.

Single source of truth for ``docs/network_contract.md`` (``python -m dsop_assets.network.contract >
docs/network_contract.md``; a test keeps them in step). The column and table types are the ERP
contract's, and the files are parsed by the ERP reader itself (``inputs.py`` adds only the network's
cross-column rules), so the two read alike: ``1,5``, ``NaN`` or a cut-off line is rejected, never guessed.
"""

from __future__ import annotations

from dsop_resources.erp.contract import Column, TableContract

SITE_TYPES = ("plant", "warehouse")
MODES = ("truck", "ship", "air")
WEATHER = ("bad",)


def _c(name, dtype, required, description, unit="", references=None, nonnegative=False, allowed=()):
    return Column(name, dtype, required, description, unit, references, nonnegative, tuple(allowed))


CITY = TableContract(
    "network_city",
    "Cities: every demand point and every candidate facility location.",
    (
        _c("city_id", "str", True, "City code, unique."),
        _c("city_name", "str", True, "City name."),
        _c("country", "str", True, "ISO 3166 alpha-3 country; decides truck vs ship/air and border costs.", "DEU, FRA, ..."),
        _c("latitude", "float", True, "Latitude, -90..90.", "degrees"),
        _c("longitude", "float", True, "Longitude, -180..180.", "degrees"),
    ),
    key=("city_id",),
)

SITE = TableContract(
    "network_site",
    "Candidate facilities: a plant or a warehouse that could be built in a city. Plant rows need the "
    "hour and cost columns; warehouse rows need holding_cost_per_unit_day.",
    (
        _c("site_id", "str", True, "Candidate code, unique."),
        _c("city_id", "str", True, "Where it would stand.", references="network_city.city_id"),
        _c("site_type", "str", True, "plant or warehouse.", allowed=SITE_TYPES),
        _c("build_cost_usd", "float", True, "One-off construction cost.", "USD", nonnegative=True),
        _c("workers", "int", False, "Plant crew: regular hours a day are at most 8 x workers.", "people", nonnegative=True),
        _c("regular_hours_per_week", "float", False, "Plant: weekly regular-hour limit.", "hours per week", nonnegative=True),
        _c("overtime_hours_per_week", "float", False, "Plant: weekly overtime-hour limit.", "hours per week", nonnegative=True),
        _c("regular_cost_per_hour", "float", False, "Plant: cost of a regular hour.", "USD per hour", nonnegative=True),
        _c("overtime_cost_per_hour", "float", False, "Plant: cost of an overtime hour.", "USD per hour", nonnegative=True),
        _c("holding_cost_per_unit_day", "float", False, "Warehouse: holding cost on top of the SKU's.", "USD per unit-day", nonnegative=True),
    ),
    key=("site_id",),
)

SKU = TableContract(
    "network_sku",
    "Products planned through the network.",
    (
        _c("sku_id", "str", True, "SKU code, unique."),
        _c("sku_name", "str", True, "SKU name."),
        _c("life_days", "int", True, "Shelf life from production; older stock is discarded.", "days", nonnegative=True),
        _c("labour_hours_per_unit", "float", True, "Plant hours to make one unit.", "hours per unit", nonnegative=True),
        _c("carbon_factor_prod", "float", True, "CO2 emitted making one unit.", "kg CO2 per unit", nonnegative=True),
        _c("holding_cost_per_unit_day", "float", True, "Cost of holding one unit one day.", "USD per unit-day", nonnegative=True),
        _c("shortage_penalty_usd", "float", True, "Penalty per unit of demand not delivered on its day.", "USD per unit", nonnegative=True),
    ),
    key=("sku_id",),
)

DEMAND = TableContract(
    "network_demand",
    "Demand per city, SKU and day (to be delivered that day; what is not delivered is lost).",
    (
        _c("demand_date", "date", True, "Day the city needs the units."),
        _c("city_id", "str", True, "City.", references="network_city.city_id"),
        _c("sku_id", "str", True, "SKU.", references="network_sku.sku_id"),
        _c("qty", "float", True, "Units.", "units", nonnegative=True),
    ),
    key=("demand_date", "city_id", "sku_id"),
    partition_grain="month",
    partition_column="demand_date",
)

MODE = TableContract(
    "network_mode",
    "Transport modes: cost and CO2 per container-km and speed. Truck runs within a country, ship and air between.",
    (
        _c("mode", "str", True, "truck, ship or air.", allowed=MODES),
        _c("cost_per_container_km", "float", True, "Cost of moving one container one km.", "USD per container-km", nonnegative=True),
        _c("co2_kg_per_container_km", "float", True, "CO2 of moving one container one km.", "kg per container-km", nonnegative=True),
        _c("speed_km_per_day", "float", True, "Distance covered per day in transit.", "km per day", nonnegative=True),
        _c("handling_days", "int", True, "Days added to every trip (loading, customs, unloading).", "days", nonnegative=True),
    ),
    key=("mode",),
)

WEATHER_DAY = TableContract(
    "network_weather",
    "Bad-weather days per city: transport departing that city that day costs three times as much.",
    (
        _c("weather_date", "date", True, "Day."),
        _c("city_id", "str", True, "City.", references="network_city.city_id"),
        _c("condition", "str", True, "Only `bad` is meaningful.", allowed=WEATHER),
    ),
    key=("weather_date", "city_id"),
)

BREAKDOWN = TableContract(
    "network_breakdown",
    "Machine breakdowns: the plant produces nothing from start_date to end_date (both included).",
    (
        _c("site_id", "str", True, "Plant candidate.", references="network_site.site_id"),
        _c("start_date", "date", True, "First day down."),
        _c("end_date", "date", True, "Last day down (not before start_date)."),
    ),
    key=("site_id", "start_date"),
)

NETWORK_TABLES = (CITY, SITE, SKU, DEMAND, MODE, WEATHER_DAY, BREAKDOWN)
NETWORK_CONTRACTS = {t.name: t for t in NETWORK_TABLES}
PLANT_COLUMNS = ("workers", "regular_hours_per_week", "overtime_hours_per_week", "regular_cost_per_hour", "overtime_cost_per_hour")
WAREHOUSE_COLUMNS = ("holding_cost_per_unit_day",)


def render_markdown() -> str:
    lines = [
        "# Supply-network data contract",
        "",
        "Generated from `dsop_assets/network/contract.py`. One CSV per table, named `<table>.csv`, in",
        "`<DSOP_ERP_DIR>/network/`, UTF-8 (with or without BOM) or CP949, parsed by the ERP reader (the same",
        "rules as docs/erp_contract.md). Dates are `YYYY-MM-DD` (or `YYYY/MM/DD`, `YYYY.MM.DD`, `YYYYMMDD`);",
        "numbers are plain decimals (`1234.5`, or quoted `\"1,234.5\"` with correctly grouped thousands):",
        "decimal commas (`1,5`), exponents, `NaN` or `inf` are rejected, not guessed; so are ragged, truncated",
        "or cut-off lines.",
        "A row that breaks a rule goes to `network_rejected_rows` with its file, line and reason; the other",
        "rows load. A file without a required column stops the load with a message naming it.",
        "",
    ]
    for table in NETWORK_TABLES:
        lines += [f"## `{table.name}`", "", f"{table.description} Key: `{', '.join(table.key)}`.", "",
                  "| column | type | unit | required | rules | description |", "|---|---|---|---|---|---|"]
        for col in table.columns:
            rules = ["key"] if col.name in table.key else []
            if col.references:
                rules.append(f"must exist in `{col.references}`")
            if col.nonnegative:
                rules.append(">= 0")
            if col.allowed:
                rules.append("one of " + ", ".join(f"`{a}`" for a in col.allowed))
            lines.append(f"| `{col.name}` | {col.dtype} | {col.unit} | {'yes' if col.required else 'no'} | "
                         f"{'; '.join(rules)} | {col.description} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown())
