"""Great Expectations suites as Dagster asset checks, one per guarded table.

Checks on raw ERP tables and on the forecasts and plan are blocking: when one fails, the
downstream chain for that partition does not run. Results and failing examples show in the UI.
"""

import dagster as dg

from dsop_assets.partitions import window_dates
from dsop_assets.quality.expectations import validate
from dsop_assets.quality.rules import BLOCKING, RULES, check_name
from dsop_resources import Warehouse, Window


def table_of(asset: dg.AssetsDefinition) -> str:
    """The warehouse table an asset writes (``dsop/table`` metadata, else the asset's name)."""
    return asset.metadata_by_key[asset.key].get("dsop/table", asset.key.path[-1])


def build_quality_check(asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    table = table_of(asset)
    rules = RULES[table]
    blocking = table in BLOCKING
    partition_column = asset.metadata_by_key[asset.key].get("partition_expr")
    partitions_def = asset.partitions_def
    described = "; ".join(rule.describe() for rule in rules)

    @dg.asset_check(
        asset=asset.key,
        name=check_name(asset.key.path[-1]),
        blocking=blocking,
        partitions_def=partitions_def,
        description=f"Great Expectations suite on {table}: {described}.",
    )
    def _quality(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        window = window_dates(context) if partitions_def is not None else None
        where = Window(partition_column, *window) if window and partition_column else None
        frame = warehouse.read_table(table, where)
        outcome = validate(frame, rules, window if partition_column else None)
        return dg.AssetCheckResult(
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_checked": frame.height,
                "expectations": outcome.evaluated,
                "failures": dg.MetadataValue.json(outcome.failures),
            },
        )

    return _quality


def build_quality_checks(assets: list[dg.AssetsDefinition]) -> list[dg.AssetChecksDefinition]:
    return [build_quality_check(a) for a in assets if table_of(a) in RULES]
