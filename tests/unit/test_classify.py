import socket

import pytest
import requests
import requests.exceptions as rq
import tenacity
from plexapi.exceptions import BadRequest, NotFound, TwoFactorRequired, Unauthorized

from errors.kinds import (
    AmbiguousMatch,
    ConfigError,
    InvalidMetadata,
    NotFoundYet,
    PermanentError,
    SyncError,
    TransientError,
)
from tests.unit.queue_support import C, N, P, T, U
from worker.classify import classify, describe, server_unavailable

URL = "http://127.0.0.1:32400/library/metadata/7"


def plex(cls, status, codename):
    # Exactly the message plexapi's PlexServer.query builds for a non-2xx answer.
    return cls(f"({status}) {codename}; {URL} <html>error</html>")


def http_error(status):
    response = requests.Response()
    response.status_code = status
    return rq.HTTPError(f"{status} error", response=response)


def retry_error(exc):
    attempt = tenacity.Future(attempt_number=3)
    attempt.set_exception(exc)
    return tenacity.RetryError(attempt)


def retry_error_without_exception():
    attempt = tenacity.Future(attempt_number=3)
    attempt.set_result(None)
    return tenacity.RetryError(attempt)


def chained(outer, cause):
    try:
        raise outer from cause
    except Exception as exc:  # noqa: BLE001 - building a real chained exception
        return exc


TABLE = [
    # our own errors carry their kind
    (TransientError("plex busy"), T),
    (NotFoundYet("not scanned"), N),
    (ConfigError("unknown library"), C),
    (PermanentError("scene deleted"), P),
    (InvalidMetadata("title: too long"), P),
    (AmbiguousMatch("/a.mp4", ["1", "2"]), P),
    (SyncError("something odd"), U),
    # plexapi
    (plex(Unauthorized, 401, "unauthorized"), C),
    (plex(TwoFactorRequired, 401, "unauthorized"), C),
    (plex(NotFound, 404, "not_found"), N),
    (NotFound("Invalid library section: Movies"), N),
    (plex(BadRequest, 429, "too_many_requests"), T),
    (plex(BadRequest, 500, "internal_server_error"), T),
    (plex(BadRequest, 502, "bad_gateway"), T),
    (plex(BadRequest, 503, "service_unavailable"), T),
    (plex(BadRequest, 504, "gateway_timeout"), T),
    (plex(BadRequest, 507, "insufficient_storage"), T),
    (plex(BadRequest, 403, "forbidden"), C),
    (plex(BadRequest, 404, "not_found"), N),
    (plex(BadRequest, 400, "bad_request"), P),
    (plex(BadRequest, 422, "unprocessable_entity"), P),
    (BadRequest("Unknown filter: foo=bar"), P),
    # requests and sockets
    (rq.ConnectionError("refused"), T),
    (rq.ConnectTimeout("connect timed out"), T),
    (rq.ReadTimeout("read timed out"), T),
    (rq.Timeout("timed out"), T),
    (rq.ChunkedEncodingError("cut"), T),
    (rq.ProxyError("proxy"), T),
    (rq.RetryError("too many 503"), T),
    (ConnectionResetError(104, "Connection reset by peer"), T),
    (ConnectionRefusedError(111, "Connection refused"), T),
    (TimeoutError("timed out"), T),
    (socket.timeout("timed out"), T),
    (socket.gaierror(-2, "Name or service not known"), T),
    (rq.MissingSchema("No scheme supplied"), C),
    (rq.InvalidSchema("No connection adapters"), C),
    (rq.InvalidURL("Invalid URL"), C),
    (http_error(503), T),
    (http_error(401), C),
    (http_error(400), P),
    (http_error(404), N),
    # tenacity: the last attempt decides
    (retry_error(rq.ConnectionError("refused")), T),
    (retry_error(plex(NotFound, 404, "not_found")), N),
    (retry_error(plex(BadRequest, 400, "bad_request")), P),
    (retry_error_without_exception(), U),
    # everything else
    (ValueError("bad"), U),
    (KeyError("x"), U),
    (PermissionError(13, "Permission denied"), U),
    (chained(RuntimeError("wrapped"), ConnectionRefusedError(111, "refused")), T),
    (chained(RuntimeError("wrapped"), ValueError("bad")), U),
]


@pytest.mark.parametrize("exc, kind", TABLE, ids=[f"{type(e).__name__}-{i}" for i, (e, _) in enumerate(TABLE)])
def test_classify(exc, kind):
    assert classify(exc) is kind


def test_describe_masks_tokens_and_names_the_fix():
    exc = Unauthorized(f"(401) unauthorized; {URL}?X-Plex-Token=abc123secret&x=1 denied")
    text = describe(exc)
    assert "abc123secret" not in text
    assert "X-Plex-Token=***" in text
    assert "Plex token setting" in text


def test_describe_is_short_and_on_one_line():
    text = describe(ValueError("line one\nline two " + "x" * 2000))
    assert "\n" not in text and len(text) <= 500
    assert text.startswith("ValueError: line one line two")


def test_describe_uses_our_message_and_the_retry_errors_last_attempt():
    assert describe(ConfigError("plex_url is not set")) == "plex_url is not set"
    assert describe(retry_error(rq.ConnectionError("refused"))) == "ConnectionError: refused"


def _raised_from(outer: Exception, cause: Exception) -> Exception:
    try:
        try:
            raise cause
        except Exception as inner:
            raise outer from inner
    except Exception as exc:
        return exc


@pytest.mark.parametrize(
    "exc, unavailable",
    [
        (rq.ConnectionError("Connection refused"), True),
        (rq.ReadTimeout("read timed out"), True),
        (socket.timeout("timed out"), True),
        (plex(BadRequest, 503, "service_unavailable"), True),
        (plex(BadRequest, 429, "too_many_requests"), True),
        (plex(BadRequest, 502, "bad_gateway"), True),
        (http_error(504), True),
        (plex(BadRequest, 500, "internal_server_error"), False),  # may concern this request alone
        (plex(BadRequest, 400, "bad_request"), False),
        (plex(Unauthorized, 401, "unauthorized"), False),
        (TransientError("Stash answered 500 for http://127.0.0.1:9999/scene/3/screenshot"), False),
        (_raised_from(TransientError("Plex stopped answering"), rq.ConnectionError("refused")), True),
        (rq.InvalidURL("bad"), False),
        (ValueError("bug"), False),
    ],
)
def test_server_unavailable_tells_a_server_in_trouble_from_one_failed_request(exc, unavailable):
    assert server_unavailable(exc) is unavailable


# -- https failures: requests raises them as SSLError, a ConnectionError subclass ----------

def _ssl_failure(inner):
    import requests.exceptions as rq
    from urllib3.exceptions import MaxRetryError
    from urllib3.exceptions import SSLError as Urllib3SSLError

    return rq.SSLError(MaxRetryError(None, "/", reason=Urllib3SSLError(inner)))


def test_untrusted_certificate_is_a_setting_not_an_outage():
    import ssl

    from worker.classify import classify, describe, server_unavailable

    exc = _ssl_failure(ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"))
    assert classify(exc) is C
    assert not server_unavailable(exc)
    assert "plex_ca_bundle" in describe(exc)


def test_https_to_plain_http_port_is_a_setting():
    import ssl

    from worker.classify import classify, describe

    exc = _ssl_failure(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"))
    assert classify(exc) is C
    assert "plain http" in describe(exc)


def test_other_tls_failures_stay_transient():
    import ssl

    from worker.classify import classify

    exc = _ssl_failure(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"))
    assert classify(exc) is T
