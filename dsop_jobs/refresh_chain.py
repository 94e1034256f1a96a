"""What runs after what: ``refresh_chain_sensor`` follows successful runs.

- A refresh schedule's data run (tag ``dsop/chain``) is followed by the same period's forecast job, then
  its decision job, then the unpartitioned decision review: each tier has its own partitions (forecasts
  from shortly before go-live, decisions from go-live), and a Dagster job holds one partitions definition.
- A drop-folder run that reloaded stock flows (production, shipments, receipts, counts) is followed by a
  re-estimate of the stock over the weeks those rows can move: the estimate is data, built over the whole
  history, and a corrected flow on day d changes every estimate up to the first count after it. It runs
  after the load, never beside it, so it reads the new rows.
Runs launched by hand are left alone.
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

import dsop_jobs.jobs as jobs_module
from dsop_assets.partitions import month_start, parse_partition_key, partition_range
from dsop_jobs.jobs import CHAINS, MONTHLY_JOB, RANGE_END_TAG, RANGE_START_TAG, WEEKLY_JOB, partitions_of_job

CHAIN_TAG = "dsop/chain"  # set by the refresh schedules: the chain follows only these runs
FILE_TRIGGER = "erp_file"  # dsop/trigger of the drop-folder sensor's runs
STOCK_TRIGGER = "erp_file_stock"
STOCK_INPUTS = frozenset({"daily_production", "daily_revenue", "purchase_order", "inventory"})
STOCK_ASSETS = ("daily_inventory_estimated", "inventory_reconciliation", "product_lead_time")
# An estimate carries the latest count at most this far (the stock estimate's count look-back,
# dsop_assets/inventory/assets.py), so a flow on day d moves no estimate after d + STOCK_REACH_DAYS.
STOCK_REACH_DAYS = 62


def next_in_chain(job: str, partition_key: str | None, available: set[str]) -> tuple[str, str | None] | None:
    """The job the refresh runs after ``job`` succeeded for ``partition_key``, and the key, when that job
    exists and has the partition (a week before go-live gets no plan); else None. A job with no
    partition for the key passes the chain on to the one after it."""
    chain = next((c for c in CHAINS.values() if job in c), None)
    if chain is None or partition_key is None:
        return None
    if jobs_module.WHOLE_CHAIN_IN_REFRESH and job == chain[0]:
        # No go-live: the refresh run already made the period's forecasts and decisions; only the
        # (unpartitioned) review follows.
        return (chain[-1], None) if chain[-1] in available and partitions_of_job(chain[-1]) is None else None
    for following in chain[chain.index(job) + 1:]:
        if following not in available:
            continue
        partitions = partitions_of_job(following)
        if partitions is None:  # unpartitioned (the decision review): only right after the week's decisions
            return (following, None) if chain.index(following) == chain.index(job) + 1 else None
        if partitions.has_partition_key(partition_key):
            return following, partition_key
    return None


def run_days(job: str, tags: dict[str, str]) -> tuple[date, date] | None:
    """[first, last] day a weekly or monthly run covered (one partition or a range), from its tags."""
    first_key = tags.get(RANGE_START_TAG) or tags.get("dagster/partition")
    last_key = tags.get(RANGE_END_TAG) or tags.get("dagster/partition")
    if not first_key or not last_key or job not in (WEEKLY_JOB, MONTHLY_JOB):
        return None
    first, last = parse_partition_key(first_key), parse_partition_key(last_key)
    if job == WEEKLY_JOB:
        return first, last + timedelta(days=6)
    return first, month_start(last + timedelta(days=31)) - timedelta(days=1)


def stock_weeks(job: str, tags: dict[str, str], selected: set[str]) -> tuple[str, str] | None:
    """The weekly keys whose stock estimate a drop-folder run of ``selected`` assets can have moved, or
    None when it reloaded no stock flow (or was not a drop-folder run)."""
    if tags.get("dsop/trigger") != FILE_TRIGGER or not selected & STOCK_INPUTS:
        return None
    days = run_days(job, tags)
    if days is None:
        return None
    return partition_range("week", days[0], days[1] + timedelta(days=STOCK_REACH_DAYS))


def build_refresh_chain_sensor(jobs: dict[str, dg.UnresolvedAssetJobDefinition]) -> dg.SensorDefinition:
    chained = [name for chain in CHAINS.values() for name in chain if name in jobs]

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name="refresh_chain_sensor",
        monitored_jobs=[jobs[name] for name in chained],
        request_jobs=[jobs[name] for name in chained],
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="The refresh chain: when a scheduled weekly (monthly) data run succeeds, run the same "
        "period's forecasts, then its decisions (customer analytics), each a job of its own; when a "
        "drop-folder run reloaded stock flows, re-estimate the stock of the weeks they move (after the load). "
        "A run launched by hand stays alone.",
    )
    def refresh_chain_sensor(context: dg.RunStatusSensorContext):
        run = context.dagster_run
        selected = {k.to_user_string() for k in (run.asset_selection or ())}
        weeks = stock_weeks(run.job_name, run.tags, selected)
        if weeks is not None:
            first, last = weeks
            tags = {"dsop/trigger": STOCK_TRIGGER, "dsop/file": run.tags.get("dsop/file", "")}
            return dg.RunRequest(
                run_key=f"stock:{first}:{last}:after:{run.run_id}", job_name=WEEKLY_JOB,
                asset_selection=[dg.AssetKey(k) for k in STOCK_ASSETS],
                partition_key=first if first == last else None,
                tags=tags if first == last else tags | {RANGE_START_TAG: first, RANGE_END_TAG: last})
        if CHAIN_TAG not in run.tags:
            return dg.SkipReason(f"run {run.run_id[:8]} was not started by a refresh schedule")
        step = next_in_chain(run.job_name, run.tags.get("dagster/partition"), set(jobs))
        if step is None:
            return dg.SkipReason(f"nothing follows {run.job_name} for this partition")
        job, key = step
        return dg.RunRequest(run_key=f"{job}:{key}:after:{run.run_id}", job_name=job, partition_key=key,
                             tags={CHAIN_TAG: run.tags[CHAIN_TAG]})

    return refresh_chain_sensor
