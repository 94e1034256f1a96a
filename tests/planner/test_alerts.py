"""Alerts: plain-language messages with the numbers, posted once each to a local webhook."""

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import polars as pl
import pytest

from dsop_assets.planner.alerts import action_alerts, slack_payload
from dsop_assets.planner.assets import planner_alert
from dsop_jobs.planner_automation import build_planner_sensors
from dsop_resources.alert_webhook import AlertWebhook
from tests.planner.conftest import WEEK, materialize


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []
    fail_first: set[str] = set()  # alert ids answered 503 once, to exercise the retry

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
        alert = body.get("dsop_alert_id")
        if alert in self.fail_first:
            self.fail_first.discard(alert)
            self.send_response(503)
        else:
            self.received.append(body)
            self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_server():
    _Webhook.received, _Webhook.fail_first = [], set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _prepare_alerts(warehouse):
    """Make two of the week's actions urgent and add a customer alert as the forecast branch will."""
    ids = warehouse.query("select action_id from action_queue where week_start = $w order by action_id",
                          {"w": WEEK})["action_id"].to_list()[:2]
    # Only these two are urgent, whatever the tiny week's plan made of the others.
    warehouse.execute("update action_queue set priority = 'Low' where week_start = $w", {"w": WEEK})
    warehouse.execute("update action_queue set priority = 'Critical' where action_id = $a", {"a": ids[0]})
    warehouse.execute("update action_queue set priority = 'High' where action_id = $a", {"a": ids[-1]})
    warehouse.write("customer_demand_alert", pl.DataFrame({
        "week_start": [WEEK], "customer_id": ["C001"], "product_id": ["FG10001"],
        "message_ko": ["C001: FG10001 수요 급증 예상"], "message_en": ["C001: FG10001 demand expected to jump"],
        "expected_change_pct": [0.42], "p10": [120.0], "p90": [310.0]}))
    return ids


def test_alerts_arrive_once_each(planner_warehouse, planner_env, instance, webhook_server):
    ids = _prepare_alerts(planner_warehouse)
    assert materialize([planner_alert], planner_warehouse, instance, WEEK.isoformat()).success
    alerts = planner_warehouse.query("select * from planner_alert order by kind, severity")
    assert alerts["kind"].to_list().count("action") == len(set(ids)) and "customer_demand" in alerts["kind"]
    customer = alerts.filter(pl.col("kind") == "customer_demand").row(0, named=True)
    assert customer["message_en"] == "C001: FG10001 demand expected to jump (+42%, P10–P90 120–310)"
    _Webhook.fail_first = {alerts["alert_id"][0]}

    url = f"http://127.0.0.1:{webhook_server.server_address[1]}/hooks/secret-token"
    sensor = next(s for s in build_planner_sensors() if s.name == "alert_webhook_sensor")
    resources = {"warehouse": planner_warehouse, "alert_webhook": AlertWebhook(url=url, backoff_seconds=0.01)}
    for _ in range(3):  # later ticks find nothing new
        with dg.build_sensor_context(resources=resources) as context:
            result = sensor.evaluate_tick(context)
        assert not result.run_requests
        assert url not in (result.skip_message or "")
    got = [body["dsop_alert_id"] for body in _Webhook.received]
    assert sorted(got) == sorted(alerts["alert_id"]) and len(got) == len(set(got))
    delivered = planner_warehouse.query("select * from alert_delivery")
    assert delivered.height == alerts.height and delivered.filter(pl.col("alert_id") == alerts["alert_id"][0])[
        "attempts"][0] == 2
    assert "secret-token" not in json.dumps(delivered.to_dicts(), default=str)
    body = next(b for b in _Webhook.received if b["dsop_alert_id"] == alerts["alert_id"][0])
    assert set(body) >= {"text", "blocks"} and body["blocks"][0]["type"] == "section"

    # Re-building the week gives the same ids, so nothing is posted again.
    assert materialize([planner_alert], planner_warehouse, instance, WEEK.isoformat()).success
    with dg.build_sensor_context(resources=resources) as context:
        sensor.evaluate_tick(context)
    assert len(_Webhook.received) == len(got)


def test_unreachable_webhook_is_retried_later_and_never_logged(planner_warehouse, planner_env, instance):
    _prepare_alerts(planner_warehouse)
    assert materialize([planner_alert], planner_warehouse, instance, WEEK.isoformat()).success
    url = "http://127.0.0.1:9/hooks/secret-token"  # discard port: nothing listens
    sensor = next(s for s in build_planner_sensors() if s.name == "alert_webhook_sensor")
    resources = {"warehouse": planner_warehouse,
                 "alert_webhook": AlertWebhook(url=url, backoff_seconds=0.0, attempts=2, max_per_tick=1)}
    with dg.build_sensor_context(resources=resources) as context:
        result = sensor.evaluate_tick(context)
    assert "1 failed" in result.skip_message and "secret-token" not in result.skip_message
    assert not planner_warehouse.table_exists("alert_delivery")


def test_without_a_webhook_the_sensor_says_how_to_configure_it(planner_warehouse, monkeypatch):
    monkeypatch.delenv("DSOP_ALERT_WEBHOOK_URL", raising=False)
    sensor = next(s for s in build_planner_sensors() if s.name == "alert_webhook_sensor")
    with dg.build_sensor_context(resources={"warehouse": planner_warehouse, "alert_webhook": AlertWebhook()}) as c:
        assert "DSOP_ALERT_WEBHOOK_URL" in sensor.evaluate_tick(c).skip_message


def test_action_alert_reads_like_a_sentence_with_the_numbers():
    week = date(2025, 6, 23)
    actions = pl.DataFrame({"action_id": ["a" * 16], "week_start": [week], "product_id": ["FG10042"],
                            "material_id": [None], "action_type": ["expedite_production"],
                            "action_label": ["expedite / increase production"], "priority": ["Critical"],
                            "suggested_qty": [1200.0]}, schema_overrides={"material_id": pl.String})
    risk = pl.DataFrame({"product_id": ["FG10042"], "week_start": [week], "on_hand_qty": [400.0],
                         "days_of_cover": [3.0], "lead_time_p90_days": [14.0], "open_order_qty": [1600.0],
                         "total_score": [88], "grade": ["F"]})
    alert = action_alerts(actions, risk).row(0, named=True)
    assert alert["message_en"] == ("FG10042 [Critical, grade F]: expedite / increase production 1,200 units. "
                                   "Stock 400 units (3 days of cover), P90 lead time 14 days, open customer "
                                   "orders 1,600. Week 2025-06-23.")
    assert alert["message_ko"].startswith("FG10042 [긴급, 등급 F]: 생산 앞당김/증산 1,200개.")
    assert "1,600" in slack_payload(alert)["text"]
