"""The planner's sensors: status updates in, alerts out.

* ``action_status_sensor``: a new or changed ``action_status*.csv`` in the drop folder, or new rows
  that ``dsop action`` wrote, start one run of the follow-up job (load the files, then rebuild
  action_kpi and kpi_trend). The run key is the state's hash, so the same state starts nothing.
* ``alert_webhook_sensor``: posts every alert of the latest weeks in ``planner_alert`` that
  ``alert_delivery`` does not list yet, each with retries, and records it right after it is
  accepted; an alert is never posted twice, and a failed one is tried again on the next tick.
"""


import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import polars as pl

from dsop_assets.planner.action_status import TABLE as STATUS_TABLE
from dsop_assets.planner.alerts import DELIVERY_TABLE, TABLE as ALERT_TABLE, delivery_rows, slack_payload
from dsop_assets.planner.assets import DROP_PATTERN
from dsop_assets.planner.settings import action_drop_dir
from dsop_resources import DuckDBWarehouse, Warehouse
from dsop_resources.alert_webhook import URL_ENV, AlertWebhook

FOLLOWUP_JOB = "planner_followup_job"

def busy_errors() -> tuple[type[Exception], ...]:
    """DuckDB takes one writer: while a run holds the file, sensors look again on the next tick.
    A function so loading the definitions imports neither driver (psycopg alone costs ~0.15 s)."""
    import duckdb
    import psycopg

    return (duckdb.Error, psycopg.OperationalError)

SENSOR_LOCK_WAIT_SECONDS = 5.0
ALERT_WEEKS = 2  # only the latest weeks' alerts are news; turning the sensor on never floods the channel


def build_planner_jobs() -> list:
    return [dg.define_asset_job(FOLLOWUP_JOB, selection=dg.AssetSelection.assets("action_status", "action_kpi",
                                                                                  "kpi_trend"),
                                description="Planners' status updates → action_kpi → kpi_trend.")]


def drop_state(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in sorted(folder.glob(DROP_PATTERN))}


def table_state(warehouse: Warehouse) -> str:
    """Fingerprint of the status log (``dsop action`` writes straight into it)."""
    if not warehouse.table_exists(STATUS_TABLE):
        return "absent"
    row = warehouse.query(f"select count(*) as n, md5(coalesce(string_agg(update_id, ',' order by update_id), '')) "
                          f"as digest from {STATUS_TABLE}").row(0)
    return f"{row[0]}:{row[1][:16]}"


def plan_followup(files: dict[str, str], table: str, cursor: dict) -> tuple[dg.RunRequest | None, dict]:
    state = {"files": files, "table": table}
    if state == cursor:
        return None, cursor
    changed = sorted(k for k, v in files.items() if cursor.get("files", {}).get(k) != v)
    key = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    tags = {"dsop/trigger": "action_status", "dsop/files": ",".join(changed)[:200] or "(table)"}
    return dg.RunRequest(run_key=f"action_status:{key}", tags=tags), state


def deliver_new_alerts(warehouse: Warehouse, webhook: AlertWebhook, log) -> tuple[int, int]:
    """(posted, failed) for this tick."""
    if not warehouse.table_exists(ALERT_TABLE):
        return 0, 0
    alerts = warehouse.query(
        f"select * from {ALERT_TABLE} where week_start in (select distinct week_start from {ALERT_TABLE} "
        f"order by week_start desc limit {ALERT_WEEKS}) order by week_start, severity, alert_id")
    if warehouse.table_exists(DELIVERY_TABLE):
        sent = warehouse.query(f"select alert_id from {DELIVERY_TABLE}")["alert_id"]
        alerts = alerts.filter(~pl.col("alert_id").is_in(sent.implode()))
    posted = failed = 0
    for alert in alerts.head(webhook.max_per_tick).iter_rows(named=True):
        delivery = webhook.post(slack_payload(alert))
        if delivery.ok:
            rows = delivery_rows([delivery])
            warehouse.write(DELIVERY_TABLE, rows, keys={"alert_id": rows["alert_id"].to_list()})
            posted += 1
        else:
            failed += 1
            log.warning(f"alert {alert['alert_id']} not delivered after {delivery.attempts} tries: {delivery.error}")
    return posted, failed


@contextmanager
def _sensor_warehouse(warehouse: Warehouse) -> Iterator[Warehouse]:
    """A sensor tick must not sit out a run holding DuckDB's write lock (the resource waits up to
    minutes): give up after a few seconds and look again on the next tick. Once in, the tick keeps
    the file for its whole length, so an alert the webhook accepted is always recorded as sent."""
    if not isinstance(warehouse, DuckDBWarehouse):
        yield warehouse
        return
    quick = DuckDBWarehouse(path=warehouse.path, lock_timeout_seconds=SENSOR_LOCK_WAIT_SECONDS)
    quick.setup_for_execution(None)
    try:
        yield quick
    finally:
        quick.teardown_after_execution(None)


def build_planner_sensors() -> list[dg.SensorDefinition]:
    @dg.sensor(
        name="action_status_sensor",
        job_name=FOLLOWUP_JOB,
        minimum_interval_seconds=60,
        description="Loads planners' action_status*.csv drops (DSOP_ACTION_DROP_DIR) and notices updates made "
        "with `dsop action`; then rebuilds action_kpi and kpi_trend.",
    )
    def action_status_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse):
        cursor = json.loads(context.cursor) if context.cursor else {}
        try:
            with _sensor_warehouse(warehouse) as opened:
                table = table_state(opened)
        except busy_errors() as error:  # the warehouse is busy (DuckDB takes one writer): look again next tick
            return dg.SkipReason(f"warehouse not readable now ({type(error).__name__}); will retry")
        request, state = plan_followup(drop_state(action_drop_dir()), table, cursor)
        context.update_cursor(json.dumps(state, sort_keys=True))
        return request or dg.SkipReason("no new status updates")

    @dg.sensor(
        name="alert_webhook_sensor",
        minimum_interval_seconds=120,
        description=f"Posts new Critical/High action, customer-demand and anomaly alerts (Korean and English) to "
        f"the Slack-compatible webhook in ${URL_ENV}, with retries; alert_delivery keeps each from being sent twice.",
    )
    def alert_webhook_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse, alert_webhook: AlertWebhook):
        if not alert_webhook.configured:
            return dg.SkipReason(f"no webhook configured: set {URL_ENV}")
        try:
            with _sensor_warehouse(warehouse) as opened:
                posted, failed = deliver_new_alerts(opened, alert_webhook, context.log)
        except busy_errors() as error:
            return dg.SkipReason(f"warehouse not readable now ({type(error).__name__}); will retry")
        return dg.SkipReason(f"posted {posted} alert(s), {failed} failed (retried next tick)")

    return [action_status_sensor, alert_webhook_sensor]
