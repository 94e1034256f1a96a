"""One self-contained HTML file per week and language: inline CSS, pictures as data URIs, no script,
nothing fetched from the network. Every section is always present with its heading; an empty or
not-yet-available table shows a note instead of rows."""

from __future__ import annotations

from html import escape

import polars as pl

from dsop_assets.partitions import iso_week_label
from dsop_assets.planner.charts import data_uri
from dsop_assets.planner.gather import RISK_TYPES, WeekData
from dsop_assets.planner.texts import t

SECTIONS = ("kpi", "forecast", "risk", "actions", "production", "purchases", "alerts")
MAX_ROWS = 60

CSS = """
body{font-family:"Noto Sans KR","Nanum Gothic","Malgun Gothic","Apple SD Gothic Neo",system-ui,sans-serif;
margin:0 auto;max-width:1200px;padding:16px 24px;color:#1d2733;background:#fff}
h1{font-size:22px;margin:4px 0}h2{font-size:17px;border-bottom:2px solid #2a6ebb;padding-bottom:3px;margin-top:28px}
h3{font-size:14px;margin:14px 0 4px}.meta{color:#5b6773;font-size:13px}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}
.kpi{border:1px solid #d5dde5;border-radius:6px;padding:10px 12px}.kpi .v{font-size:24px;font-weight:600}
.kpi .l{font-size:12px;color:#5b6773}.kpi .s{font-size:12px}.good{color:#1a7f37}.bad{color:#c62828}
table{border-collapse:collapse;width:100%;font-size:12.5px;margin:6px 0}
th,td{border-bottom:1px solid #e3e8ee;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f6f9}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.late td{background:#fde8e8}tr.late td:first-child{border-left:4px solid #c62828}
.p-Critical{color:#fff;background:#b71c1c;border-radius:3px;padding:1px 5px}
.p-High{color:#fff;background:#e65100;border-radius:3px;padding:1px 5px}
.p-Medium{background:#fff3c4;border-radius:3px;padding:1px 5px}
.note{color:#5b6773;font-size:12.5px;font-style:italic}.na{color:#8a6d00;font-size:12.5px}
img{max-width:100%;height:auto}.row{display:flex;gap:18px;align-items:flex-start}.row>*{flex:1}
.up{color:#c62828}.down{color:#1a7f37}
"""


def _pct(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def _num(value, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _table(frame: pl.DataFrame, columns: list[tuple[str, str, str]], row_class=None) -> str:
    """columns: (column, heading, kind) with kind 'text' | 'num' | 'raw' (already HTML)."""
    head = "".join(f"<th>{escape(h)}</th>" for _, h, _ in columns)
    body = []
    for row in frame.head(MAX_ROWS).iter_rows(named=True):
        cells = []
        for column, _, kind in columns:
            value = row.get(column)
            if kind == "num":
                cells.append(f'<td class="n">{_num(value)}</td>')
            elif kind == "raw":
                cells.append(f"<td>{value}</td>")
            else:
                cells.append(f"<td>{escape('' if value is None else str(value))}</td>")
        css = f' class="{row_class(row)}"' if row_class and row_class(row) else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _empty(lang: str) -> str:
    return f'<p class="note">{t("empty", lang)}</p>'


def _more(frame: pl.DataFrame, lang: str) -> str:
    return f'<p class="note">{t("more", lang, n=frame.height - MAX_ROWS)}</p>' if frame.height > MAX_ROWS else ""


def _img(image: bytes | None, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="{data_uri(image)}">' if image else ""


def kpi_section(d: WeekData, lang: str) -> str:
    k = d.kpis
    lo, hi = k.get("mape_target", (0.10, 0.15))
    mape = k.get("mape_core")
    mape_state = "" if mape is None else (f'<span class="good">{t("met", lang)}</span>' if mape <= hi
                                          else f'<span class="bad">{t("not_met", lang)}</span>')
    sync = k.get("sync_success")
    sync_state = "" if sync is None else (f'<span class="good">{t("met", lang)}</span>' if sync >= k["sync_target"]
                                          else f'<span class="bad">{t("not_met", lang)}</span>')
    fill = _pct(k.get("fill_rate")) if k.get("fill_rate") is not None else f'<span class="na">{t("not_available", lang)}</span>'
    runs = (t("runs_week" if k.get("sync_scope") == "week" else "runs_all", lang, n=k["sync_runs"])
            if k.get("sync_runs") else f'pipeline_health: {t("not_available", lang)}')
    unpriced = f" · {k['stock_value_unpriced']} unpriced" if k.get("stock_value_unpriced") else ""
    cards = [
        (t("fill_rate", lang), fill, f'{t("shipped_vs_ordered", lang)}: {_pct(k.get("shipped_vs_ordered"))}'),
        (t("stock_value", lang), f'₩{_num(k.get("stock_value_krw"))}', f"KRW{unpriced}"),
        (t("accuracy", lang), _pct(mape), f'{t("target", lang)} {lo:.0%}–{hi:.0%} {mape_state} · WAPE {_pct(k.get("wape_core"))}'),
        (t("pipeline", lang), _pct(sync), f'{t("target", lang)} ≥ {k.get("sync_target", 0.99):.0%} {sync_state} · {runs}'),
    ]
    html = "".join(f'<div class="kpi"><div class="l">{escape(label)}</div><div class="v">{value}</div>'
                   f'<div class="s">{sub}</div></div>' for label, value, sub in cards)
    note = "" if k.get("replay_available") else f'<p class="na">decision_replay: {t("not_available", lang)}</p>'
    return f'<div class="kpis">{html}</div>{note}'


def forecast_section(d: WeekData, image: bytes | None, lang: str) -> str:
    if not image:
        return _empty(lang)
    note = t("forecast_note", lang) + (" " + t("group_note", lang) if any(s["group"] for s in d.bands) else "")
    return f'<p class="note">{escape(note)}</p>{_img(image, t("forecast", lang))}'


def _grade_change(row: dict, lang: str) -> str:
    before, now = row.get("previous_grade"), row["grade"]
    if before is None:
        return f'<span class="note">{t("new", lang)}</span> → {now}'
    if before == now:
        return f'{now} <span class="note">({t("no_change", lang)})</span>'
    arrow = '<span class="up">▲</span>' if now > before else '<span class="down">▼</span>'  # F worst
    return f"{before} → <b>{now}</b> {arrow}"


def risk_section(d: WeekData, image: bytes | None, lang: str) -> str:
    if d.risk.is_empty():
        return _empty(lang)
    rows = d.risk.with_columns(pl.Series("change", [_grade_change(r, lang) for r in d.risk.iter_rows(named=True)]))
    changed = rows.filter(pl.col("previous_grade").is_null() | (pl.col("previous_grade") != pl.col("grade")))
    if rows["previous_grade"].null_count() == rows.height:
        table = f'<p class="note">{t("no_previous", lang)}</p>'
    else:
        table = _table(changed, [("product_id", t("product", lang), "text"), ("change", t("grade_change", lang), "raw"),
                             ("total_score", "score", "num"), ("dominant_risk", "risk", "text")]) \
            if changed.height else f'<p class="note">{t("no_change", lang)}</p>'
    return (f'<div class="row"><div>{_img(image, t("risk", lang))}</div>'
            f'<div><h3>{t("grade_change", lang)}</h3>{table}</div></div>')


def actions_section(d: WeekData, lang: str) -> str:
    if d.actions.is_empty():
        return _empty(lang)
    shown = d.actions.with_columns(
        pl.Series("priority_html", [f'<span class="p-{escape(p)}">{escape(t(p, lang))}</span>' for p in d.actions["priority"]]),
        pl.Series("status_text", [t(s, lang) + (f" → {u}" if u else "") for s, u in
                                  zip(d.actions["status"], d.actions["snoozed_until"])]),
        pl.coalesce("material_id", "product_id").alias("item"),
    )
    counts = " · ".join(f'{t(p, lang)} {n}' for p, n in shown.group_by("priority", maintain_order=True).len().iter_rows())
    return (f'<p class="meta">{escape(counts)}</p>' + _table(shown, [
        ("priority_html", t("priority", lang), "raw"), ("item", t("product", lang), "text"),
        ("action_label", t("action", lang), "text"), ("suggested_qty", t("qty", lang), "num"),
        ("reason", t("reason", lang), "text"), ("status_text", t("status", lang), "text"),
        ("action_id", "id", "text")]) + _more(shown, lang))


def production_section(d: WeekData, image: bytes | None, lang: str) -> str:
    return _img(image, t("production", lang)) if image else _empty(lang)


def purchases_section(d: WeekData, lang: str) -> str:
    if d.purchases.is_empty():
        return _empty(lang)
    shown = d.purchases.with_columns((pl.col("recommended_qty") * pl.col("unit_cost")).alias("value"))
    late = int(shown["late"].sum())
    return (f'<p class="note">{t("late_note", lang)} ({late}/{shown.height})</p>' + _table(shown, [
        ("product_id", t("product", lang), "text"), ("supplier_id", t("supplier", lang), "text"),
        ("order_by_date", t("order_by", lang), "text"), ("need_date", t("need_date", lang), "text"),
        ("recommended_qty", t("qty", lang), "num"), ("lead_time_p90_days", t("lead_time", lang), "num"),
        ("value", t("value", lang), "num")], row_class=lambda r: "late" if r["late"] else "") + _more(shown, lang))


def alerts_section(d: WeekData, urgent: pl.DataFrame, lang: str) -> str:
    parts = [f"<h3>{t('urgent', lang)}</h3>",
             _table(urgent, [("severity", t("priority", lang), "text"), ("subject", t("product", lang), "text"),
                             (f"message_{lang}", t("message", lang), "text")]) if urgent.height else _empty(lang)]
    for name, title, subject in (("customer_demand_alert", "customer_alerts", "customer_id"),
                                 ("demand_anomaly", "anomalies", "product_id"),
                                 ("customer_churn_risk", "churn", "customer_id")):
        optional = d.optional.get(name)
        parts.append(f"<h3>{t(title, lang)}</h3>")
        if optional is None or not optional.available:
            note = optional.note if optional is not None else name
            parts.append(f'<p class="na">{t("not_available", lang)} — {escape(note)}</p>')
        elif optional.frame.is_empty():
            parts.append(_empty(lang))
        else:
            frame = optional.frame.with_columns(pl.coalesce(f"message_{lang}", "message_en").alias("message"))
            parts.append(_table(frame, [(subject, t("customer" if subject == "customer_id" else "product", lang), "text"),
                                        ("message", t("message", lang), "text")]) + _more(frame, lang))
    return "".join(parts)


def render(d: WeekData, images: dict[str, bytes | None], urgent: pl.DataFrame, lang: str,
           other_file: str | None = None) -> str:
    bodies = {
        "kpi": kpi_section(d, lang),
        "forecast": forecast_section(d, images.get("forecast"), lang),
        "risk": risk_section(d, images.get("risk"), lang),
        "actions": actions_section(d, lang),
        "production": production_section(d, images.get("production"), lang),
        "purchases": purchases_section(d, lang),
        "alerts": alerts_section(d, urgent, lang),
    }
    titles = {"kpi": "kpi", "forecast": "forecast", "risk": "risk", "actions": "actions",
              "production": "production", "purchases": "purchases", "alerts": "alerts"}
    sections = "".join(f'<section id="{s}" data-section="{s}"><h2>{t(titles[s], lang)}</h2>{bodies[s]}</section>'
                       for s in SECTIONS)
    label = iso_week_label(d.week)
    switch = f' · <a href="{escape(other_file)}">{t("language_switch", lang)}</a>' if other_file else ""
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{t('title', lang)} {label}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{t('title', lang)} · {label}</h1><p class=\"meta\">{t('week', lang)} {d.week} – "
            f"{d.week.fromordinal(d.week.toordinal() + 6)} · {t('published', lang)} {d.published}{switch}</p></header>"
            f"{sections}</body></html>")
