import time

import pytest

from dsop_resources.external import http
from tests.external.conftest import KEY, Reply

FAST = http.RetryPolicy(
    timeout_seconds=5, max_retries=2, backoff_base_seconds=0.01, backoff_max_seconds=2
)


def test_429_then_success_honours_retry_after(fake_api):
    fake_api.route("/x", Reply(429, "slow down", {"Retry-After": "1"}), Reply(200, '{"ok": true}'))
    started = time.monotonic()
    response = http.get(f"{fake_api.url}/x", source="T", policy=FAST)
    assert http.parse_json(response, source="T") == {"ok": True}
    assert time.monotonic() - started >= 0.9
    assert len(fake_api.paths("/x")) == 2


def test_5xx_past_retry_limit_fails_clearly_without_the_key(fake_api):
    fake_api.route("/x", Reply(500, "boom"))
    with pytest.raises(http.RetriesExhaustedError) as caught:
        http.get(f"{fake_api.url}/x", source="T", params={"api_key": KEY}, policy=FAST, secrets=[KEY])
    message = str(caught.value)
    assert "3 attempts" in message and "HTTP 500" in message
    assert KEY not in message and "sEcReT" not in message and "***" in message
    assert len(fake_api.paths("/x")) == 3


def test_401_is_an_authentication_error(fake_api):
    fake_api.route("/x", Reply(401, "no"))
    with pytest.raises(http.AuthenticationError) as caught:
        http.get(f"{fake_api.url}/x/{KEY}", source="T", policy=FAST, secrets=[KEY])
    assert "sEcReT" not in str(caught.value)


def test_malformed_json(fake_api):
    fake_api.route("/x", Reply(200, '{"response": {"data": [1, 2'))
    response = http.get(f"{fake_api.url}/x", source="T", policy=FAST)
    with pytest.raises(http.MalformedResponseError, match="not valid JSON"):
        http.parse_json(response, source="T")


def test_require_names_the_missing_field():
    with pytest.raises(http.ResponseShapeError, match="response.data"):
        http.require({"response": {}}, ("response", "data"), source="T")


def test_redact_every_spelling():
    text = f"a={KEY} b=sEcReT%2Fkey%2B42 c=sEcReT%2Fkey%2B42"
    assert "sEcReT" not in http.redact(text, [KEY])


def test_backoff_is_capped_and_jittered():
    policy = http.RetryPolicy(backoff_base_seconds=1, backoff_max_seconds=5)
    assert all(0.5 <= policy.delay(0, None) <= 1 for _ in range(20))
    assert policy.delay(10, None) <= 5
    assert policy.delay(0, "3") == 3
    assert policy.delay(0, "600") == 5
