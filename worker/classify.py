"""The one place an exception becomes an ErrorKind, and a message safe to store.

Our own errors (errors/kinds.py) carry their kind. Third-party errors are mapped
here: plexapi raises BadRequest for every status it has no class for, 429 and 5xx
included, so its "(NNN)" status prefix decides; requests' connection-level failures are
transient; a malformed URL is a setting to fix, and so is an https certificate this
machine does not trust or https to a plain-http port (requests raises both as
SSLError, a ConnectionError subclass, so they are picked out before that rule).
"""

from __future__ import annotations

import re
import socket

import requests.exceptions as rq
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from tenacity import RetryError

from plex.tls import hint as tls_hint
from plex.tls import tls_problem
from errors.kinds import ErrorKind, SyncError

_STATUS = re.compile(r"^\((\d{3})\)")
_SECRET_PARAM = re.compile(r"(?i)(x-plex-token|apikey|api_key|token)=([^&\s;'\"]+)")
MAX_MESSAGE = 500
_MAX_DEPTH = 5

_TRANSIENT_REQUESTS = (rq.ConnectionError, rq.Timeout, rq.ChunkedEncodingError, rq.RetryError)
_CONFIG_REQUESTS = (rq.MissingSchema, rq.InvalidSchema, rq.InvalidURL)
_TRANSIENT_OS = (ConnectionError, TimeoutError, socket.timeout, socket.gaierror, socket.herror)


def kind_for_status(status: int) -> ErrorKind:
    """HTTP status → kind: 429 and 5xx pass, 401/403 need a new token, 404 is not there (yet)."""
    if status == 429 or 500 <= status <= 599:
        return ErrorKind.TRANSIENT
    if status in (401, 403):
        return ErrorKind.CONFIG
    if status == 404:
        return ErrorKind.NOT_FOUND
    if 400 <= status <= 499:
        return ErrorKind.PERMANENT
    return ErrorKind.UNEXPECTED


def plex_status(exc: BaseException) -> int:
    """The status plexapi put at the start of its message, or 0."""
    match = _STATUS.match(str(exc))
    return int(match.group(1)) if match else 0


def classify(exc: BaseException, _depth: int = 0) -> ErrorKind:
    """How the worker routes this failure (see worker/policy.py)."""
    if isinstance(exc, SyncError):
        return exc.kind
    if isinstance(exc, RetryError):
        inner = exc.last_attempt.exception() if exc.last_attempt.failed else None
        return classify(inner, _depth + 1) if inner is not None and _depth < _MAX_DEPTH else ErrorKind.UNEXPECTED
    if isinstance(exc, Unauthorized):  # before BadRequest: it is a subclass
        return ErrorKind.CONFIG
    if isinstance(exc, NotFound):
        return ErrorKind.NOT_FOUND
    if isinstance(exc, BadRequest):
        status = plex_status(exc)
        return kind_for_status(status) if status else ErrorKind.PERMANENT
    if isinstance(exc, _CONFIG_REQUESTS):
        return ErrorKind.CONFIG
    if isinstance(exc, rq.SSLError) and tls_problem(exc):
        return ErrorKind.CONFIG
    if isinstance(exc, rq.HTTPError) and exc.response is not None:
        return kind_for_status(exc.response.status_code)
    if isinstance(exc, _TRANSIENT_REQUESTS) or isinstance(exc, _TRANSIENT_OS):
        return ErrorKind.TRANSIENT
    # An unknown wrapper raised `from` a known failure takes the cause's kind.
    cause = exc.__cause__
    if cause is not None and _depth < _MAX_DEPTH:
        return classify(cause, _depth + 1)
    return ErrorKind.UNEXPECTED


# Answers about the server as a whole (overloaded, restarting, or a proxy in front of it
# cannot reach it). A 500 may concern one request alone, so it does not count here.
_UNAVAILABLE = frozenset({429, 502, 503, 504})


def server_unavailable(exc: BaseException, _depth: int = 0) -> bool:
    """True when a request failed because the server itself cannot serve now.

    Then every further request of a batch would fail the same way, so the batch stops
    and leaves its other scenes to the queue. A failure of one request (a 500, a Stash
    screenshot that cannot be served) is not that; our own errors count only when they
    were raised from such a failure.
    """
    if _depth > _MAX_DEPTH or exc is None:
        return False
    if isinstance(exc, SyncError) or isinstance(exc, RetryError):
        inner = exc.__cause__ if isinstance(exc, SyncError) else (
            exc.last_attempt.exception() if exc.last_attempt.failed else None)
        return server_unavailable(inner, _depth + 1)
    if isinstance(exc, BadRequest) and not isinstance(exc, Unauthorized):
        return plex_status(exc) in _UNAVAILABLE
    if isinstance(exc, rq.HTTPError):
        return exc.response is not None and exc.response.status_code in _UNAVAILABLE
    if isinstance(exc, _CONFIG_REQUESTS) or (isinstance(exc, rq.SSLError) and tls_problem(exc)):
        return False
    return isinstance(exc, _TRANSIENT_REQUESTS) or isinstance(exc, _TRANSIENT_OS)


def _hint(exc: BaseException) -> str:
    if isinstance(exc, Unauthorized) or (isinstance(exc, BadRequest) and plex_status(exc) == 403):
        return "Plex refused the token: check the Plex token setting. "
    if isinstance(exc, _CONFIG_REQUESTS):
        return "The server address is not a valid URL: check the Plex URL setting. "
    if isinstance(exc, rq.SSLError):
        problem = tls_problem(exc)
        if problem:
            return tls_hint(problem)
    return ""


def redact(text: str) -> str:
    """Mask token-like query parameters; messages are stored and shown in status."""
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", text)


def describe(exc: BaseException) -> str:
    """A short, secret-free message for the schedule, dead letters and status."""
    if isinstance(exc, SyncError):
        text = exc.message
    elif isinstance(exc, RetryError) and exc.last_attempt.failed and exc.last_attempt.exception() is not None:
        return describe(exc.last_attempt.exception())
    else:
        text = f"{_hint(exc)}{type(exc).__name__}: {exc}"
    text = redact(" ".join(str(text).split()))
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
