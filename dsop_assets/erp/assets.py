"""Raw ERP assets: one per contract table, replacing exactly its partition's rows.

Transaction tables are partitioned (orders, revenue, production by ISO week; inventory snapshots
and purchase orders by month); a backfill is one run over the whole range (single-run policy),
so each export is read once, not once per week. Rejected rows go to ``erp_rejected_rows``.
"""


from datetime import date

import dagster as dg
import polars as pl

from dsop_resources.erp.contract import ALL_TABLES, CONTRACTS, TableContract
from dsop_assets.erp.completeness import (
    OUT_OF_RANGE,
    ROWS_ACCOUNTED_CHECK,
    UNDATED,
    accounting,
    scope_keys,
    split_out_of_range,
)
from dsop_resources.erp.reader import ErpContractError, ParsedTable
from dsop_resources.erp.scope import PartitionScope
from dsop_assets.partitions import PARTITIONS_BY_GRAIN, months_in, weeks_in, window_dates
from dsop_assets.quality.freshness import MONTHLY_ERP, WEEKLY_ERP
from dsop_resources import WAREHOUSE_POOL, Warehouse, Window, quote_identifier
from dsop_resources.erp_files import ErpExportFolder

GROUP = "erp_raw"
QUARANTINE_TABLE = "erp_rejected_rows"


def _partitions_def(table: TableContract):
    return PARTITIONS_BY_GRAIN[table.partition_grain]


def _referenced_tables(table: TableContract) -> list[str]:
    return sorted({c.references.split(".")[0] for c in table.columns if c.references} - {table.name})


def known_ids(warehouse: Warehouse, table: TableContract) -> dict[str, pl.Series]:
    """Ids the masters know, for the reference checks. An empty optional master checks nothing."""
    known: dict[str, pl.Series] = {}
    for col in table.columns:
        if not col.references:
            continue
        ref_table, ref_column = col.references.split(".")
        if not warehouse.table_exists(ref_table):
            if CONTRACTS[ref_table].optional_table:
                continue
            raise dg.Failure(f"{table.name} needs {ref_table}: materialise the ERP masters first")
        ids = warehouse.query(
            f"select distinct {quote_identifier(ref_column)} as id from {quote_identifier(ref_table)}")["id"]
        if len(ids) or not CONTRACTS[ref_table].optional_table:
            known[col.references] = ids
    return known


def partition_keys_in(table: TableContract, start: date, end: date) -> list[str]:
    days = weeks_in(start, end) if table.partition_grain == "week" else months_in(start, end)
    return [d.isoformat() for d in days]


def load_table(
    context: dg.AssetExecutionContext, table: TableContract, warehouse: Warehouse, erp: ErpExportFolder
) -> dg.MaterializeResult:
    partitions_def = _partitions_def(table)
    parse_scope = None
    if partitions_def is not None:
        all_keys = partitions_def.get_partition_keys()
        start, end = window_dates(context)
        # The reader may then type and check only the rows kept below (a one-week load of a
        # years-long export); what it returns is filtered below all the same.
        parse_scope = PartitionScope(tuple(partition_keys_in(table, start, end)), tuple(all_keys))
    try:
        parsed = erp.parse(table, known_ids(warehouse, table), parse_scope)
    except ErpContractError as error:
        if not table.optional_table:
            raise dg.Failure(description=str(error)) from None
        return _unreadable_optional(context, table, error)
    valid, rejected, records, superseded = parsed.valid, parsed.rejected, parsed.records, parsed.superseded
    if partitions_def is not None:
        valid, outside = split_out_of_range(valid, table, all_keys, all_keys[0], all_keys[-1])
        rejected = pl.concat([rejected.with_columns(partition_key=scope_keys(rejected, all_keys)), outside])
        records = records.with_columns(partition_key=scope_keys(records, all_keys))
        superseded = superseded.with_columns(partition_key=scope_keys(superseded, all_keys))
        _warn_out_of_range(context, table, outside, all_keys[0])
        column = table.partition_column
        valid = valid.filter((pl.col(column) >= start) & (pl.col(column) < end))
        # Undated and out-of-range rows belong to no partition; every run of the table re-reports
        # them (idempotently), so they are never lost whichever partitions run.
        scope = [*parse_scope.keys, UNDATED, OUT_OF_RANGE]
        rejected, records, superseded = (f.filter(pl.col("partition_key").is_in(scope)) for f in (rejected, records, superseded))
        window = Window(column, start, end)
        warehouse.write(table.name, valid, window=window)
        quarantine_keys = {"source_table": [table.name], "partition_key": scope}
    else:
        scope, window = None, None
        warehouse.write(table.name, valid)
        quarantine_keys = {"source_table": [table.name]}
    warehouse.write(QUARANTINE_TABLE, rejected, keys=quarantine_keys)
    # The quarantine table is an asset of its own, fed by every raw load: an observation records this
    # load's share of it (a materialisation would be one more event on the raw asset's step).
    context.log_event(dg.AssetObservation(QUARANTINE_TABLE, metadata={
        "source_table": table.name, "rejected_rows": rejected.height,
        "dagster/row_count": warehouse.row_count(QUARANTINE_TABLE)}))
    if rejected.height:
        context.log.warning(
            f"{table.name}: {rejected.height} row(s) rejected to {QUARANTINE_TABLE}; first: "
            f"{rejected['file_name'][0]} line {rejected['line_number'][0]}: {rejected['reason'][0]}"
        )
    passed, counts = accounting(
        records.height, warehouse.row_count(table.name, window), _quarantined(warehouse, table, scope), superseded.height
    )
    if not passed:
        context.log.error(f"{table.name}: rows in the files do not add up: {counts}")
    check = dg.AssetCheckResult(
        check_name=ROWS_ACCOUNTED_CHECK, passed=passed, metadata=counts,
        severity=dg.AssetCheckSeverity.ERROR,
    )
    return dg.MaterializeResult(metadata=_metadata(parsed, valid, rejected) | counts, check_results=[check])


def _quarantined(warehouse: Warehouse, table: TableContract, scope: list[str] | None) -> int:
    """Rows of this table in the quarantine after the write, counted in the warehouse itself."""
    if not warehouse.table_exists(QUARANTINE_TABLE):
        return 0
    counts = warehouse.query(
        f"select partition_key, count(*) as n from {quote_identifier(QUARANTINE_TABLE)} "
        "where source_table = $t group by partition_key", {"t": table.name}
    )
    return int(sum(n for key, n in counts.rows() if scope is None or key in scope))


def _warn_out_of_range(context, table: TableContract, outside: pl.DataFrame, first_key: str) -> None:
    if not outside.height:
        return
    column = table.partition_column
    early = outside.filter(pl.col("reason").str.contains("before the history start"))
    if early.height:
        first = early.select(pl.col("raw_values").str.json_path_match(f"$.{column}").min()).item()
        context.log.warning(
            f"{table.name}: {early.height} row(s) dated before the history start {first_key} were quarantined, "
            f"not loaded (earliest {first}). Set DSOP_HISTORY_START={first} and reload to keep them."
        )
    late = outside.height - early.height
    if late:
        context.log.warning(f"{table.name}: {late} row(s) dated after the newest partition were quarantined.")


def _unreadable_optional(context, table: TableContract, error: Exception) -> dg.MaterializeResult:
    """An optional table's unreadable export keeps its previous rows and fails its check, loudly;
    the tables that merely reference it load as usual."""
    context.log.error(f"{table.name} (optional) not loaded: {error}")
    check = dg.AssetCheckResult(
        check_name=ROWS_ACCOUNTED_CHECK, passed=False, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"unreadable_file": str(error)},
    )
    return dg.MaterializeResult(metadata={"unreadable_file": str(error)}, check_results=[check])


def _metadata(parsed: ParsedTable, valid: pl.DataFrame, rejected: pl.DataFrame) -> dict:
    # First two words name the rule ("unknown customer_id", "duplicate key"), enough to count by.
    kinds = rejected.select(pl.col("reason").str.extract(r"^(\S+ \S+)").alias("kind"))
    preview = rejected.head(10).select("file_name", "line_number", "reason")
    return {
        "dagster/row_count": valid.height,
        "rejected_rows": rejected.height,
        "files": ", ".join(parsed.files) or "(none: optional table)",
        "encodings": ", ".join(f"{k}: {v}" for k, v in parsed.encodings.items()),
        "ignored_columns": str(parsed.ignored_columns) if parsed.ignored_columns else "none",
        "rejected_preview": dg.MetadataValue.md(_markdown(preview)) if rejected.height else "none",
        "rejected_by_reason": dict(kinds.group_by("kind").len().sort("kind").rows()) if rejected.height else {},
    }


def _markdown(frame: pl.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    return header + "\n".join("| " + " | ".join(str(v) for v in row) + " |" for row in frame.rows())


def _build(table: TableContract) -> dg.AssetsDefinition:
    partitions_def = _partitions_def(table)

    @dg.asset(
        name=table.name,
        group_name=GROUP,
        description=f"{table.description} Source: ERP export (see docs/erp_contract.md).",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions_def else None,
        deps=_referenced_tables(table),
        metadata={"partition_expr": table.partition_column} if partitions_def else {},
        kinds={"csv", "polars"},
        pool=WAREHOUSE_POOL,
        freshness_policy={"week": WEEKLY_ERP, "month": MONTHLY_ERP, None: None}[table.partition_grain],
        check_specs=[dg.AssetCheckSpec(
            ROWS_ACCOUNTED_CHECK, asset=table.name,
            description="Rows in the files = rows loaded + rows rejected (+ rows a newer file replaced), "
            "counted in the warehouse after the write.")],
    )
    def _raw(context: dg.AssetExecutionContext, warehouse: Warehouse, erp: ErpExportFolder) -> dg.MaterializeResult:
        return load_table(context, table, warehouse, erp)

    return _raw


raw_assets = [_build(t) for t in ALL_TABLES]

# Written by the raw assets above (each replaces its own table's rows), so it has no producer of its own.
rejected_rows = dg.AssetSpec(
    QUARANTINE_TABLE,
    group_name=GROUP,
    deps=[t.name for t in ALL_TABLES],
    description="Every ERP row the loaders rejected, with file, line and reason; each raw load replaces "
    "its own table's rows (and, for partitioned tables, its partitions' rows).",
    kinds={"duckdb"},
)
