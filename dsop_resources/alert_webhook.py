"""Where alerts go: a Slack-compatible incoming webhook whose URL is a secret.

The URL carries the webhook's token, so it comes from the environment (``dg.EnvVar`` in
definitions, resolved at launch, hidden in the UI) and never appears in logs, metadata or errors.
Without one, the alert sensor skips and says how to configure it.
"""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from dsop_assets.planner.alerts import Delivery, post_with_retries

URL_ENV = "DSOP_ALERT_WEBHOOK_URL"


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
