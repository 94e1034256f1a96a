"""Where alerts go: a Slack-compatible incoming webhook whose URL is a secret.

The URL carries the webhook's token, so it comes from the environment (``dg.EnvVar`` in
definitions, resolved at launch, hidden in the UI) and never appears in logs, metadata or errors.
Without one, the alert sensor skips and says how to configure it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

URL_ENV = "DSOP_ALERT_WEBHOOK_URL"


@dataclass
class Delivery:
    alert_id: str
    ok: bool
    attempts: int
    http_status: int | None
    error: str = ""


def post_with_retries(url: str, payload: dict, attempts: int = 3, backoff_seconds: float = 0.5,
                      timeout_seconds: float = 10.0) -> Delivery:
    """POST JSON; retry on connection errors, 429 and 5xx with doubling back-off. The URL (a secret:
    it carries the webhook token) never appears in the returned error."""
    import requests  # here, not at module level: the definitions load without it

    status, error = None, ""
    for attempt in range(1, attempts + 1):
        try:
            response = requests.post(url, data=json.dumps(payload, ensure_ascii=False).encode(),
                                     headers={"Content-Type": "application/json; charset=utf-8"},
                                     timeout=timeout_seconds)
            status = response.status_code
            if 200 <= status < 300:
                return Delivery(payload.get("dsop_alert_id", ""), True, attempt, status)
            error = f"HTTP {status}"
            if status < 500 and status != 429:
                break  # the request itself is wrong: retrying will not help
        except requests.RequestException as exc:
            error = type(exc).__name__
        if attempt < attempts:
            time.sleep(backoff_seconds * 2 ** (attempt - 1))
    return Delivery(payload.get("dsop_alert_id", ""), False, attempt, status, error)


class AlertWebhook(dg.ConfigurableResource):
    url: str = Field(default="", description=f"Webhook URL; empty: read ${URL_ENV} when posting.")
    attempts: int = Field(default=3, description="Tries per alert (connection errors, 429 and 5xx are retried).")
    backoff_seconds: float = Field(default=0.5, description="Wait before the second try; doubles each time.")
    timeout_seconds: float = Field(default=10.0)
    max_per_tick: int = Field(default=50, description="Alerts posted per sensor evaluation at most.")

    def resolved_url(self) -> str:
        return self.url or os.getenv(URL_ENV, "")

    @property
    def configured(self) -> bool:
        return bool(self.resolved_url())

    def post(self, payload: dict) -> Delivery:
        return post_with_retries(self.resolved_url(), payload, self.attempts, self.backoff_seconds,
                                 self.timeout_seconds)
