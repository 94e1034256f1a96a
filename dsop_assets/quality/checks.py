"""Great Expectations suites as Dagster asset checks, one per guarded table.

Checks on raw ERP tables and on the forecasts and plan are blocking: when one fails, the
downstream chain for that partition does not run. Results and failing examples show in the UI.

A run over a range of partitions (a history build, a backfill) validates the whole range once and
stamps one result per partition, so the UI's Checks tab shows Passed/Failed for each week or month
of the range instead of "Skipped" (a check result without a partition stamps none).
"""

import dagster as dg

from dsop_assets.partitions import window_dates
from dsop_assets.quality.expectations import validate
from dsop_assets.quality.partition_results import PartitionOutcome, log_partition_results, split_by_partition
from dsop_assets.quality.rules import BLOCKING, RULES, check_name
from dsop_resources import Warehouse, Window


def table_of(asset: dg.AssetsDefinition, key: dg.AssetKey | None = None) -> str:
    """The warehouse table asset ``key`` writes (``dsop/table`` metadata, else the key's name).

    ``key`` picks one spec of a multi-asset; a single-key asset needs none.
    """
    key = key or asset.key
    return asset.metadata_by_key[key].get("dsop/table", key.path[-1])


def build_quality_check(asset: dg.AssetsDefinition, key: dg.AssetKey | None = None) -> dg.AssetChecksDefinition:
    key = key or asset.key
    table = table_of(asset, key)
    rules = RULES[table]
    blocking = table in BLOCKING
    partition_column = asset.metadata_by_key[key].get("partition_expr")
    partitions_def = asset.partitions_def
    described = "; ".join(rule.describe() for rule in rules)
    severity = dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN
    name = check_name(key.path[-1])
    needed = {c for rule in rules for c in rule.columns} | ({partition_column} if partition_column else set())

    @dg.asset_check(
        asset=key,
        name=name,
        blocking=blocking,
        partitions_def=partitions_def,
        description=f"Great Expectations suite on {table}: {described}.",
    )
    def _quality(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
        window = window_dates(context) if partitions_def is not None else None
        where = Window(partition_column, *window) if window and partition_column else None
        # Only what the rules read (and the partition column): the raw tables' ids, currencies and
        # source lines would be read and copied for nothing (large daily_revenue: ~2 M rows).
        frame = warehouse.read_table(table, where, columns=needed)
        keys = context.op_execution_context.partition_keys if partitions_def is not None else []
        per_partition = len(keys) > 1 and partition_column is not None
        outcome = validate(frame, rules, window if partition_column else None,
                           partition_column if per_partition else None)
        if not per_partition:
            return dg.AssetCheckResult(
                passed=outcome.passed,
                severity=severity,
                metadata={
                    "rows_checked": frame.height,
                    "expectations": outcome.evaluated,
                    "failures": dg.MetadataValue.json(outcome.failures),
                },
            )
        outcomes = split_by_partition(frame, outcome, partitions_def, keys, partition_column)
        log_partition_results(context, outcomes, severity)
        failed = [o for o in outcomes if not o.passed]
        if failed and blocking:
            raise dg.Failure(
                description=f"{name} failed in {len(failed)} of {len(keys)} partitions: "
                + "; ".join(_summary(o) for o in failed[:5]),
                metadata={"failed_partitions": [o.partition_key for o in failed]},
            )
        return None

    return _quality


def _summary(outcome: PartitionOutcome) -> str:
    return f"{outcome.partition_key} ({', '.join(f['rule'] for f in outcome.failures)})"


def build_quality_checks(assets: list[dg.AssetsDefinition]) -> list[dg.AssetChecksDefinition]:
    """One suite per asset key whose table has rules (each spec of a multi-asset on its own)."""
    return [build_quality_check(a, key) for a in assets for key in sorted(a.keys) if table_of(a, key) in RULES]
