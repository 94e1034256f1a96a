"""Dagster wiring of the supply-network plan (group ``network``).

``network_design`` reads the network CSVs (rejected rows to ``network_rejected_rows``) and chooses the
facilities; ``network_plan`` solves one monthly partition = one chunk, reading the state the previous
month left (a self-dependency on ``network_carry`` one month back) and writing one table per spec;
``network_kpi`` sums the plan and runs the independent checker, one asset check per rule.
"""


from datetime import date, timedelta
from pathlib import Path

import os

import dagster as dg
import polars as pl

from dsop_assets.network import checker
from dsop_assets.network.chunk import Carry
from dsop_assets.network.config import NetworkConfig
from dsop_assets.network.inputs import read_network
from dsop_assets.network.kpi import network_kpis
from dsop_assets.network.prep import NetworkData, prepare
from dsop_assets.network.rolling import solve_chunk
from dsop_assets.partitions import TIMEZONE, window_dates
from dsop_resources import WAREHOUSE_POOL, Warehouse, Window
from dsop_resources.erp_files import ErpExportFolder
from dsop_resources.settings import warehouse_kind

GROUP = "network"
FACILITY, REJECTED = "network_facility", "network_rejected_rows"
CARRY = "network_carry"
# table -> its date column (the window a chunk owns)
PLAN_TABLES = {
    "network_production": "production_date", "network_plant_day": "production_date", "network_shipment": "ship_date",
    "network_lane_day": "ship_date", "network_stock": "stock_date", "network_service": "demand_date",
    "network_chunk": "chunk_start", CARRY: "for_date",
}
_FROM_RUN = {"network_production": "production", "network_plant_day": "plant_day", "network_shipment": "shipment",
             "network_lane_day": "lane_day", "network_stock": "stock", "network_service": "service", "network_chunk": "summary"}
BACKEND = "highspy"  # see docs/network.md: the Pyomo path gives the same model, its build costs more


def load_network(erp: ErpExportFolder, warehouse: Warehouse, config: NetworkConfig | None = None) -> tuple[NetworkData, pl.DataFrame]:
    inputs = read_network(Path(erp.erp_dir) / "network")
    wti = pl.DataFrame(schema={"observation_date": pl.Date, "value": pl.Float64})
    if warehouse.table_exists("economic_indicator"):
        wti = warehouse.query("select observation_date, arg_max(value, known_at) as value from economic_indicator "
                              "where series_id = 'RWTC' group by observation_date order by observation_date")
    return prepare(inputs, wti.with_columns(pl.col("observation_date").cast(pl.Date)), config), inputs.rejected


@dg.asset(
    name=FACILITY, group_name=GROUP, deps=["economic_indicator"], kinds={"highs", "polars"}, pool=WAREHOUSE_POOL,
    description="Plants and warehouses to build (<= 5 and <= 20, one of each type per city), chosen on the whole "
    "horizon with aggregated flows (docs/network.md); construction start and first usable day.",
)
def network_facility(context: dg.AssetExecutionContext, erp: ErpExportFolder, warehouse: Warehouse) -> dg.MaterializeResult:
    from dsop_assets.network.design import design_network

    nd, _ = load_network(erp, warehouse)
    facilities, info = design_network(nd)
    warehouse.write(FACILITY, facilities)
    return dg.MaterializeResult(metadata={"dagster/row_count": facilities.height, "horizon": f"{nd.start} .. {nd.end}",
                                          **{k: str(v) for k, v in info.items()}})


@dg.asset(
    name=REJECTED, group_name=GROUP, kinds={"polars"}, pool=WAREHOUSE_POOL,
    description="Network CSV rows that broke the contract (docs/network_contract.md), with file, line and reason.",
)
def network_rejected_rows(context: dg.AssetExecutionContext, erp: ErpExportFolder, warehouse: Warehouse) -> dg.MaterializeResult:
    rejected = read_network(Path(erp.erp_dir) / "network").rejected
    warehouse.write(REJECTED, rejected)
    if rejected.height:
        context.log.warning(f"{rejected.height} network row(s) rejected, e.g. {rejected.row(0, named=True)}")
    return dg.MaterializeResult(metadata={"dagster/row_count": rejected.height})


_PREVIOUS = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
# Months = chunks. Its own definition (not the shared monthly one) so the monthly ERP refresh does not
# pull the network plan in: a chunk needs the network files and the month before it.
network_months = dg.MonthlyPartitionsDefinition(start_date=os.getenv("DSOP_NETWORK_START", "2024-01-01"), timezone=TIMEZONE, end_offset=1)


@dg.multi_asset(
    specs=[dg.AssetSpec(name, group_name=GROUP, partitions_def=network_months, kinds={"highs", "polars"},
                        deps=[FACILITY, dg.AssetDep(CARRY, partition_mapping=_PREVIOUS)],
                        metadata={"partition_expr": col})
           for name, col in PLAN_TABLES.items()],
    partitions_def=network_months,
    pool=WAREHOUSE_POOL,
    description="One rolling chunk of the network plan: the month's days committed (7 more seen), starting "
    "from the stock, in-transit units, hours and mode locks the previous month left in network_carry.",
)
def network_plan(context: dg.AssetExecutionContext, erp: ErpExportFolder, warehouse: Warehouse):
    start, end = window_dates(context)
    nd, _ = load_network(erp, warehouse)
    facilities = warehouse.read_table(FACILITY)
    if facilities.height == 0:
        raise dg.Failure("no network_facility rows: materialise network_design first")
    chunk = [c for c in nd.chunks(start, end - timedelta(days=1))]
    written = {}
    if chunk:
        first, last = chunk[0]
        run = solve_chunk(nd, facilities, first, last, read_carry(warehouse, nd, first), BACKEND)
        tables = {name: run.tables[key] for name, key in _FROM_RUN.items()}
        tables[CARRY] = carry_rows(run.carry, last + timedelta(days=1))
    else:
        tables = {}
    for name, col in PLAN_TABLES.items():
        frame = tables.get(name, pl.DataFrame())
        # The carry a month writes is keyed by the next month's first day (its own window end).
        window = Window(col, start + timedelta(days=1), end + timedelta(days=1)) if name == CARRY else Window(col, start, end)
        written[name] = warehouse.write(name, frame, window) if frame.height else _clear(warehouse, name, window)
    summary = tables.get("network_chunk")
    meta = {} if summary is None else {k: (float(v) if isinstance(v, (int, float)) else str(v)) for k, v in summary.row(0, named=True).items()}
    # The carry comes first: the other tables depend on it (one month back), and Dagster wants topological order.
    for name in sorted(PLAN_TABLES, key=lambda n: n != CARRY):
        yield dg.MaterializeResult(asset_key=name, metadata={"dagster/row_count": written[name], **(meta if name == "network_chunk" else {})})


def _clear(warehouse: Warehouse, table: str, window: Window) -> int:
    if warehouse.table_exists(table):
        warehouse.execute(f"delete from {table} where {window.predicate()}")
    return 0


def carry_rows(carry: Carry, for_date: date) -> pl.DataFrame:
    """The state one chunk hands the next, as one long table keyed by the next chunk's first day."""
    parts = [
        carry.lots.select(pl.lit("lot").alias("kind"), "site_id", "sku_id", "produced", "qty"),
        carry.in_transit.select(pl.lit("in_transit").alias("kind"), "site_id", "sku_id", "produced", "arrival", "qty"),
        carry.city_transit.select(pl.lit("city_transit").alias("kind"), "city_id", "sku_id", "arrival", "qty"),
        carry.hours.select(pl.lit("hours").alias("kind"), "site_id", "week_start", "regular_hours", "overtime_hours"),
        carry.week_fill.select(pl.lit("week_fill").alias("kind"), "week_start", "qty", "delivered_qty"),
    ]
    return pl.concat(parts, how="diagonal_relaxed").with_columns(pl.lit(for_date).alias("for_date"))


def read_carry(warehouse: Warehouse, nd: NetworkData, first: date) -> Carry:
    if first <= nd.start:
        return Carry()
    rows = warehouse.query(f"select * from {CARRY} where for_date = $d", {"d": first}) if warehouse.table_exists(CARRY) else pl.DataFrame()
    if rows.height == 0:
        raise dg.Failure(f"no network_carry for {first}: materialise network_plan for the month before {first} first")
    empty = Carry()
    pick = lambda kind, like: rows.filter(pl.col("kind") == kind).select(  # noqa: E731
        [pl.col(c).cast(t) for c, t in like.schema.items()]) if (rows["kind"] == kind).any() else like
    recent = warehouse.query("select ship_date, src, dst, mode, containers, transport_cost_usd from network_lane_day "
                             "where ship_date >= $a and ship_date < $b", {"a": first - timedelta(days=2 * nd.config.lock_days), "b": first})
    return Carry(pick("lot", empty.lots), pick("in_transit", empty.in_transit), pick("hours", empty.hours),
                 recent.select([pl.col(c).cast(t) for c, t in empty.lane_days.schema.items()]) if recent.height else empty.lane_days,
                 pick("city_transit", empty.city_transit), pick("week_fill", empty.week_fill))


@dg.asset(
    group_name=GROUP,
    deps=[name for name in PLAN_TABLES if name != CARRY],
    kinds={"polars"},
    pool=WAREHOUSE_POOL,
    check_specs=[dg.AssetCheckSpec(rule, asset="network_kpi") for rule in checker.RULES],
    description="Network plan KPIs over every planned chunk: cost by component (construction included), CO2 "
    "tonnes, fill rate (overall and weekly), facility use. Checks: every hard rule, verified on the plan by an "
    "independent checker that replays the stock first-expiring-first-out.",
)
def network_kpi(context: dg.AssetExecutionContext, erp: ErpExportFolder, warehouse: Warehouse):
    nd, _ = load_network(erp, warehouse)
    facilities = warehouse.read_table(FACILITY)
    plan = {key: warehouse.read_table(name) for name, key in _FROM_RUN.items()}
    if plan["summary"].height == 0:
        raise dg.Failure("no network_chunk rows: materialise network_plan first")
    plan = {k: v.with_columns([pl.col(c).cast(pl.Date) for c, t in v.schema.items() if isinstance(t, pl.Datetime)]) for k, v in plan.items()}
    kpi = network_kpis(nd, facilities, plan)
    rows = pl.DataFrame({"metric": list(kpi["headline"]), "value": [float(v) if v is not None else None for v in kpi["headline"].values()]})
    warehouse.write("network_kpi", rows)
    violations = checker.check_plan(nd, facilities, plan)
    for rule in checker.RULES:
        found = violations.filter(pl.col("rule") == rule)
        # A week no plan could lift to 95 % is shown as a warning with its proof, not as an error.
        severity = dg.AssetCheckSeverity.WARN if rule == checker.WEEKLY_FILL_UNREACHABLE else dg.AssetCheckSeverity.ERROR
        yield dg.AssetCheckResult(check_name=rule, asset_key="network_kpi", passed=found.height == 0, severity=severity,
                                  metadata={"violations": found.height, "first": dg.MetadataValue.md(
                                      "\n".join(f"- {r['day']}: {r['detail']}" for r in found.head(5).iter_rows(named=True)) or "none")})
    yield dg.MaterializeResult(metadata={"dagster/row_count": rows.height, **{k: float(v) for k, v in kpi["headline"].items() if v is not None}})


network_assets = [network_facility, network_rejected_rows, network_plan, network_kpi]

NETWORK_DESIGN_JOB, NETWORK_PLAN_JOB, NETWORK_KPI_JOB = "network_design_job", "network_plan_job", "network_kpi_job"
# The run queue limits runs with this tag (deploy/dagster.yaml): DuckDB takes one writer.
_TAGS = {"dsop/warehouse": warehouse_kind()}
network_design_job = dg.define_asset_job(NETWORK_DESIGN_JOB, selection=dg.AssetSelection.assets(network_facility, network_rejected_rows),
                                         tags=_TAGS, description="Supply network: the facilities chosen and the rejected input rows.")
network_kpi_job = dg.define_asset_job(NETWORK_KPI_JOB, selection=dg.AssetSelection.assets(network_kpi), tags=_TAGS,
                                      description="Supply network: the plan's KPIs and every rule checked on it.")
# One chunk (or a range of months, run in order: each reads the month before) of the network plan.
network_plan_job = dg.define_asset_job(NETWORK_PLAN_JOB, selection=dg.AssetSelection.assets(*network_plan.keys),
                                       partitions_def=network_months, tags=_TAGS,
                                       description="Supply-network plan, one monthly chunk per partition (issue #14).")
network_jobs = [network_design_job, network_plan_job, network_kpi_job]
