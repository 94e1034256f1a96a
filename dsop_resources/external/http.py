"""One HTTP helper for every JSON/XML source: timeouts, retries with backoff, and errors that name the
problem (bad key, changed shape, malformed body) without ever echoing the key.

Keys travel in query strings or URL paths on these APIs, so every message built here goes through
``redact`` before it can reach a log, an exception or asset metadata.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from dataclasses import dataclass
from typing import Any, Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:  # imported where a request is made: loading the definitions should not pay for it
    import requests

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ExternalSourceError(RuntimeError):
    """Any failure of an external source; the asset catches these per source."""


class SourceNotConfigured(ExternalSourceError):
    """Neither an API key nor the offline file: nothing is set up for this source (not a failure of it)."""


class AuthenticationError(ExternalSourceError):
    """The API refused the key (HTTP 401/403 or the API's own error envelope)."""


class ResponseShapeError(ExternalSourceError):
    """The body parsed but lacks the fields we rely on: the provider changed its format."""


class MalformedResponseError(ExternalSourceError):
    """The body is not valid JSON/XML at all."""


class RetriesExhaustedError(ExternalSourceError):
    """Still 429/5xx or unreachable after the last retry."""


class HttpStatusError(ExternalSourceError):
    """A non-retryable HTTP error other than 401/403; ``body`` is redacted and truncated."""

    def __init__(self, message: str, status: int, body: str):
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class RetryPolicy:
    timeout_seconds: float = 30.0
    max_retries: int = 4
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Exponential backoff with full jitter, unless the server said how long to wait."""
        told = _parse_retry_after(retry_after)
        if told is not None:
            return min(told, self.backoff_max_seconds)
        ceiling = min(self.backoff_base_seconds * (2**attempt), self.backoff_max_seconds)
        return random.uniform(ceiling / 2, ceiling)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every spelling of each secret (raw, %-encoded, +-encoded) with ``***``."""
    for secret in secrets:
        if not secret:
            continue
        for spelling in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(spelling, "***")
    return text


def get(
    url: str,
    *,
    source: str,
    params: dict[str, Any] | None = None,
    policy: RetryPolicy = RetryPolicy(),
    secrets: Iterable[str | None] = (),
    session: requests.Session | None = None,
) -> requests.Response:
    """GET with retries on 429/5xx/connection errors; raises ``ExternalSourceError`` subclasses."""
    import requests

    secrets = tuple(secrets)
    http = session or requests.Session()
    last_problem = ""
    for attempt in range(policy.max_retries + 1):
        retry_after = None
        try:
            response = http.get(url, params=params, timeout=policy.timeout_seconds)
        except (requests.ConnectionError, requests.Timeout) as error:
            last_problem = f"{type(error).__name__}"
        else:
            if response.status_code in (401, 403):
                raise AuthenticationError(
                    f"{source}: the API rejected the key (HTTP {response.status_code}) at "
                    f"{redact(_where(response), secrets)}; check the key's environment variable"
                )
            if response.status_code not in RETRY_STATUSES:
                if response.status_code >= 400:
                    body = redact(response.text[:300], secrets)
                    raise HttpStatusError(
                        f"{source}: HTTP {response.status_code} at {redact(_where(response), secrets)}: {body}",
                        response.status_code,
                        body,
                    )
                return response
            last_problem = f"HTTP {response.status_code}"
            retry_after = response.headers.get("Retry-After")
        if attempt < policy.max_retries:
            time.sleep(policy.delay(attempt, retry_after))
    where = redact(requests.Request("GET", url, params=params).prepare().url or url, secrets)
    raise RetriesExhaustedError(
        f"{source}: gave up after {policy.max_retries + 1} attempts ({last_problem}) at {where}"
    )


def parse_json(response: requests.Response, *, source: str, secrets: Iterable[str | None] = ()) -> Any:
    try:
        return json.loads(response.text)
    except ValueError as error:
        raise MalformedResponseError(
            f"{source}: response is not valid JSON ({error.msg} at char {error.pos}) from "
            f"{redact(_where(response), secrets)}"
        ) from None


def require(mapping: Any, path: tuple[str, ...], *, source: str) -> Any:
    """Walk nested keys; a missing one means the provider changed its response format."""
    current = mapping
    for i, key in enumerate(path):
        if not isinstance(current, dict) or key not in current:
            raise ResponseShapeError(
                f"{source}: response has no field {'.'.join(path[: i + 1])!r}; the API format may have changed"
            )
        current = current[key]
    return current


def _where(response: requests.Response) -> str:
    return response.url or "<unknown url>"


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())
