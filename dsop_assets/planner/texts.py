"""Every word the report and the alerts show, in Korean and English."""

from __future__ import annotations

LANGUAGES = ("ko", "en")

TEXT: dict[str, dict[str, str]] = {
    "title": {"ko": "주간 수급 계획 보고서", "en": "Weekly planning report"},
    "week": {"ko": "주차", "en": "Week"},
    "published": {"ko": "발행일", "en": "Published"},
    "kpi": {"ko": "핵심 지표", "en": "Key figures"},
    "fill_rate": {"ko": "충족률 (의사결정 재현)", "en": "Fill rate (decision replay)"},
    "shipped_vs_ordered": {"ko": "출하/수주 (ERP, 이번 주)", "en": "Shipped / ordered (ERP, this week)"},
    "stock_value": {"ko": "재고 금액 (주말 기준)", "en": "Stock value (end of week)"},
    "accuracy": {"ko": "예측 정확도 (핵심 제품 MAPE, 1주 선행, 13주)", "en": "Forecast accuracy (core products MAPE, 1 week ahead, 13 weeks)"},
    "target": {"ko": "목표", "en": "target"},
    "pipeline": {"ko": "데이터 동기화 성공률", "en": "Data sync success"},
    "runs_week": {"ko": "이번 주 실행 {n}건", "en": "{n} runs in the publishing week"},
    "runs_all": {"ko": "기록된 전체 실행 {n}건", "en": "all {n} recorded runs"},
    "met": {"ko": "달성", "en": "met"},
    "not_met": {"ko": "미달", "en": "not met"},
    "forecast": {"ko": "예측 구간과 실적 (상위 제품·그룹)", "en": "Forecast bands against actuals (top products and groups)"},
    "forecast_note": {"ko": "음영: 1주 선행 P10–P90, 선: P50, 점: 실제 수주량, 점선 이후: 이번 주 예측.",
                      "en": "Shaded: 1-week-ahead P10–P90, line: P50, dots: actual orders; after the dashed line: this week's forecast."},
    "group_note": {"ko": "그룹 구간은 제품 구간의 합 (실제 그룹 구간보다 넓음).",
                   "en": "Group bands are sums of product bands (wider than the group's true band)."},
    "risk": {"ko": "리스크 히트맵 (제품 × 리스크 유형)", "en": "Risk heat map (products × risk type)"},
    "grade_change": {"ko": "등급 변화 (지난주 → 이번 주)", "en": "Grade changes (last week → this week)"},
    "no_change": {"ko": "변화 없음", "en": "no change"},
    "new": {"ko": "신규", "en": "new"},
    "actions": {"ko": "조치 목록 (우선순위순)", "en": "Action queue by priority"},
    "production": {"ko": "라인별 생산 계획", "en": "Production plan per line"},
    "purchases": {"ko": "구매 목록 (발주 기한)", "en": "Purchase list with order-by dates"},
    "late_note": {"ko": "빨간 행: 발주 기한이 발행일 이전 (이미 늦음).", "en": "Red rows: order-by date before publication (already late)."},
    "alerts": {"ko": "고객 알림과 이상 징후", "en": "Customer alerts and anomalies"},
    "customer_alerts": {"ko": "고객 수요 알림", "en": "Customer demand alerts"},
    "anomalies": {"ko": "수요 이상 징후", "en": "Demand anomalies"},
    "churn": {"ko": "고객 이탈 위험", "en": "Customer churn risk"},
    "urgent": {"ko": "긴급·높음 조치 알림", "en": "Critical and High action alerts"},
    "empty": {"ko": "이번 주 해당 데이터가 없습니다.", "en": "No rows for this week."},
    "not_available": {"ko": "아직 제공되지 않음", "en": "not available yet"},
    "more": {"ko": "외 {n}건", "en": "and {n} more"},
    "product": {"ko": "제품", "en": "Product"},
    "grade": {"ko": "등급", "en": "Grade"},
    "priority": {"ko": "우선순위", "en": "Priority"},
    "action": {"ko": "조치", "en": "Action"},
    "qty": {"ko": "수량", "en": "Qty"},
    "reason": {"ko": "사유", "en": "Reason"},
    "status": {"ko": "상태", "en": "Status"},
    "supplier": {"ko": "공급사", "en": "Supplier"},
    "order_by": {"ko": "발주 기한", "en": "Order by"},
    "need_date": {"ko": "소요일", "en": "Needed"},
    "lead_time": {"ko": "리드타임 P90 (일)", "en": "Lead time P90 (days)"},
    "value": {"ko": "금액", "en": "Value"},
    "customer": {"ko": "고객", "en": "Customer"},
    "message": {"ko": "내용", "en": "Message"},
    "utilisation": {"ko": "라인 가동률", "en": "Line utilisation"},
    "language_switch": {"ko": "English", "en": "한국어"},
    "Critical": {"ko": "긴급", "en": "Critical"},
    "High": {"ko": "높음", "en": "High"},
    "Medium": {"ko": "보통", "en": "Medium"},
    "Low": {"ko": "낮음", "en": "Low"},
    "open": {"ko": "미처리", "en": "open"},
    "done": {"ko": "완료", "en": "done"},
    "dismissed": {"ko": "기각", "en": "dismissed"},
    "snoozed": {"ko": "보류", "en": "snoozed"},
    "in_progress": {"ko": "진행 중", "en": "in progress"},
}


def t(key: str, language: str, **values) -> str:
    entry = TEXT.get(key)
    text = entry[language] if entry else key
    return text.format(**values) if values else text
