"""Plain-language alerts, in Korean and English with the numbers, and their delivery to a webhook.

Three kinds: Critical and High actions (from ``action_queue`` with the risk figures behind them),
customer demand alerts and demand anomalies (from the forecast and analytics tables, through the
optional-table adapter). ``alert_id`` hashes the kind, week and subject, so re-building a week
yields the same ids and the delivery log (``alert_delivery``) keeps any of them from being sent twice.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone

import polars as pl

from dsop_assets.planner.texts import t
from dsop_resources.alert_webhook import Delivery

TABLE = "planner_alert"
DELIVERY_TABLE = "alert_delivery"
URGENT = ("Critical", "High")
SCHEMA = {
    "alert_id": pl.String, "week_start": pl.Date, "kind": pl.String, "severity": pl.String,
    "subject": pl.String, "message_ko": pl.String, "message_en": pl.String,
}  # fmt: skip
DELIVERY_SCHEMA = {"alert_id": pl.String, "delivered_at": pl.Datetime("us"), "attempts": pl.Int64,
                   "http_status": pl.Int64}
ACTION_KO = {
    "expedite_production": "생산 앞당김/증산",
    "expedite_purchase": "긴급 구매 발주",
    "cut_production": "생산 축소/수주 보류",
    "alternative_supplier": "대체 공급사/긴급 입고",
    "review_margin": "가격·원가·환헤지 검토",
    "raise_safety_stock": "안전재고 상향",
    "customer_concentration_alert": "특정 고객 의존 경고",
}


def alert_id(kind: str, week: date, subject: str) -> str:
    return hashlib.sha1(f"{kind}|{week.isoformat()}|{subject}".encode()).hexdigest()[:16]


def _n(value, digits: int = 0) -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{value:,.{digits}f}"


def action_alerts(actions: pl.DataFrame, risk: pl.DataFrame) -> pl.DataFrame:
    """One alert per Critical/High action, with the stock, cover, lead time and open orders behind it."""
    urgent = actions.filter(pl.col("priority").is_in(URGENT))
    if urgent.is_empty():
        return pl.DataFrame(schema=SCHEMA)
    figures = risk.select("product_id", "week_start", "on_hand_qty", "days_of_cover", "lead_time_p90_days",
                          "open_order_qty", "total_score", "grade")
    rows = []
    for a in urgent.join(figures, on=["product_id", "week_start"], how="left").iter_rows(named=True):
        item = a["material_id"] or a["product_id"]
        qty = f" {_n(a['suggested_qty'])}" if a["suggested_qty"] is not None else ""
        en = (f"{item} [{a['priority']}, grade {a['grade'] or '?'}]: {a['action_label']}{qty and qty + ' units'}"
              f"{' for ' + a['product_id'] if a['material_id'] else ''}. Stock {_n(a['on_hand_qty'])} units "
              f"({_n(a['days_of_cover'])} days of cover), P90 lead time {_n(a['lead_time_p90_days'])} days, "
              f"open customer orders {_n(a['open_order_qty'])}. Week {a['week_start']}.")
        ko = (f"{item} [{t(a['priority'], 'ko')}, 등급 {a['grade'] or '?'}]: "
              f"{ACTION_KO.get(a['action_type'], a['action_label'])}{qty and qty + '개'}"
              f"{' (' + a['product_id'] + '용)' if a['material_id'] else ''}. 현재고 {_n(a['on_hand_qty'])}개 "
              f"({_n(a['days_of_cover'])}일분), P90 리드타임 {_n(a['lead_time_p90_days'])}일, "
              f"미출하 수주 {_n(a['open_order_qty'])}개. {a['week_start']} 주.")
        rows.append({"alert_id": alert_id("action", a["week_start"], a["action_id"]), "week_start": a["week_start"],
                     "kind": "action", "severity": a["priority"], "subject": item, "message_ko": ko, "message_en": en})
    return pl.DataFrame(rows, schema=SCHEMA)


def customer_alerts(frame: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for r in frame.iter_rows(named=True):
        band = ""
        if r.get("change_pct") is not None:
            band = f" ({r['change_pct']:+.0%}" + (f", P10–P90 {_n(r['p10'])}–{_n(r['p90'])}" if r.get("p10") is not None
                                                 else "") + ")"
        subject = "/".join(s for s in (r["customer_id"], r.get("product_id")) if s)
        en = (r["message_en"] or "") + band
        rows.append({"alert_id": alert_id("customer_demand", r["week_start"], subject), "week_start": r["week_start"],
                     "kind": "customer_demand", "severity": "High", "subject": subject,
                     "message_ko": (r["message_ko"] or r["message_en"] or "") + band, "message_en": en})
    return pl.DataFrame(rows, schema=SCHEMA)


def anomaly_alerts(frame: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for r in frame.iter_rows(named=True):
        subject = "/".join(s for s in (r.get("product_id"), r.get("customer_id")) if s) or "demand"
        rows.append({"alert_id": alert_id("anomaly", r["week_start"], subject + "|" + (r["message_en"] or "")),
                     "week_start": r["week_start"], "kind": "anomaly", "severity": "High", "subject": subject,
                     "message_ko": r["message_ko"] or r["message_en"], "message_en": r["message_en"]})
    return pl.DataFrame(rows, schema=SCHEMA)


def slack_payload(alert: dict, languages: tuple[str, ...] = ("ko", "en")) -> dict:
    """Slack-compatible incoming-webhook body: ``text`` for any client, ``blocks`` for Slack."""
    lines = [alert[f"message_{lang}"] for lang in languages if alert.get(f"message_{lang}")]
    icon = {"Critical": ":rotating_light:", "High": ":warning:"}.get(alert["severity"], ":information_source:")
    text = f"{icon} " + "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            "dsop_alert_id": alert["alert_id"]}


def delivery_rows(deliveries: list[Delivery], now: datetime | None = None) -> pl.DataFrame:
    now = (now or datetime.now(timezone.utc)).replace(tzinfo=None)
    return pl.DataFrame([{"alert_id": d.alert_id, "delivered_at": now, "attempts": d.attempts,
                          "http_status": d.http_status} for d in deliveries if d.ok], schema=DELIVERY_SCHEMA)
