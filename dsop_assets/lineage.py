"""Partition mappings that say which upstream partitions an asset reads, so the UI's upstream
status, staleness and backfills follow what the code does (not Dagster's identity default).

Offsets count in the downstream asset's periods (weeks for a weekly asset), whatever the upstream
grain. Reads that are cut at a date but start at the beginning of history ("everything known before
the origin") reach back over every partition there is; Dagster has no open-ended mapping, and
``AllPartitionMapping`` would also claim the future, so a forecast as of 2024-W10 would look stale
whenever 2025 data lands.
"""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from dsop_assets.partitions import HISTORY_START


def _periods_since_start(partitions_def: dg.TimeWindowPartitionsDefinition) -> int:
    """How many periods of ``partitions_def`` lie between the history's first day and now, plus margin.

    From the history's start, not the asset's own: a forecast or plan partitioned from go-live still
    reads every row since the history began."""
    first = min(partitions_def.start, datetime.combine(HISTORY_START, datetime.min.time(), tzinfo=timezone.utc))
    days = (datetime.now(timezone.utc) - first).days
    if isinstance(partitions_def, dg.MonthlyPartitionsDefinition):
        return days // 28 + 12  # a year's margin: definitions loaded today still cover next year's partitions
    return days // 7 + 53


def history_until_partition(key: str, partitions_def: dg.TimeWindowPartitionsDefinition) -> dg.AssetDep:
    """The asset reads every row of ``key`` dated before the end of its own partition."""
    return dg.AssetDep(key, partition_mapping=dg.TimeWindowPartitionMapping(
        start_offset=-_periods_since_start(partitions_def), allow_nonexistent_upstream_partitions=True))


def window(key: str, periods_back: int, periods_ahead: int = 0) -> dg.AssetDep:
    """The asset reads ``key`` from ``periods_back`` periods before its partition to ``periods_ahead`` after."""
    return dg.AssetDep(key, partition_mapping=dg.TimeWindowPartitionMapping(
        start_offset=-periods_back, end_offset=periods_ahead, allow_nonexistent_upstream_partitions=True))


def weeks_covering(days: int) -> int:
    """Whole weeks a look-back of ``days`` days from a week's start can reach into."""
    return -(-days // 7)
