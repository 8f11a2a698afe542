"""https to Plex: which certificates to trust, and which TLS failures are settings to fix.

A certificate no trust store knows (Plex's own, or a home reverse proxy's) fails the
same way on every try, and so does `https://` to a port that speaks plain http: both
are configuration errors that name the fix, never "Plex is down". requests raises
both as `SSLError`, a subclass of its `ConnectionError`, so they are told apart here,
by the ssl error underneath, before anything treats them as a connection failure.
"""

from __future__ import annotations

import logging
import os
import ssl
import warnings
from typing import Optional, Union

import requests

from errors.kinds import ConfigError
from plex.in_flight import InFlightGate
from validation.http_environment import EnvironmentOnce
from validation.settings import SETTINGS_PAGE

log = logging.getLogger("stash2plex")

CERTIFICATE = "certificate"
PLAIN_HTTP = "plain_http"

# OpenSSL's reasons when the peer answered a TLS hello with something that is not TLS
# (an http server answers "HTTP/1.1 400 …"): 1.1/3.0 say WRONG_VERSION_NUMBER, 3.2+
# RECORD_LAYER_FAILURE or PACKET_LENGTH_TOO_LONG.
_NOT_TLS_REASONS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
                    "UNKNOWN_PROTOCOL", "HTTP_REQUEST")
_NOT_TLS_TEXT = ("wrong version number", "record layer failure", "packet length too long")
_MAX_DEPTH = 8

_warned_insecure = False


class PlexSession(EnvironmentOnce):
    """A requests session whose own `verify` wins over REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE.

    requests lets those environment variables replace a session-level `verify` (only a
    per-request one beats them), and plexapi sends every request through the session
    without one. Many Docker images set them, so plex_ca_bundle would be ignored there.
    The environment's proxies and netrc are read once per server (EnvironmentOnce), and
    at most `limit_in_flight` requests are in flight at once (in_flight.py).
    """

    def __init__(self) -> None:
        super().__init__()
        self._gate = InFlightGate()

    def limit_in_flight(self, limit: int) -> None:
        self._gate.set_limit(limit)

    def send(self, request, **kwargs):
        with self._gate.held():
            return super().send(request, **kwargs)

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            merged["verify"] = self.verify
        return merged


def verify_setting(settings) -> Union[bool, str]:
    """What requests' `verify` gets: False, a CA bundle path, or True (system trust)."""
    if settings.plex_skip_tls_verify:
        return False
    bundle = settings.plex_ca_bundle
    if bundle:
        if not os.path.isfile(bundle):
            raise ConfigError(f"plex_ca_bundle names {bundle!r}, which is not a file on the machine "
                              f"that runs Stash: enter the full path of the PEM file on {SETTINGS_PAGE}.")
        return bundle
    return True


def apply_verify(session: requests.Session, settings) -> requests.Session:
    """Set the session's certificate check from the settings; warn once when it is off."""
    global _warned_insecure
    session.verify = verify_setting(settings)
    if session.verify is False:
        # urllib3 would warn on every request, on stderr, where Stash shows stray lines as errors.
        from urllib3.exceptions import InsecureRequestWarning

        warnings.simplefilter("ignore", InsecureRequestWarning)
        if not _warned_insecure:
            _warned_insecure = True
            log.warning("plex_skip_tls_verify is checked: Plex's https certificate is not verified, "
                        "so anyone on the network path could read the Plex token. Prefer plex_ca_bundle.")
    return session


def tls_problem(exc: BaseException) -> Optional[str]:
    """CERTIFICATE, PLAIN_HTTP, or None when this is no TLS failure a setting can fix."""
    seen = set()
    stack = [(exc, 0)]
    while stack:
        current, depth = stack.pop()
        if current is None or id(current) in seen or depth > _MAX_DEPTH:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return CERTIFICATE
        if isinstance(current, ssl.SSLError):
            reason = str(getattr(current, "reason", "") or "").upper()
            text = str(current).lower()
            if reason in _NOT_TLS_REASONS or any(t in text for t in _NOT_TLS_TEXT):
                return PLAIN_HTTP
        if isinstance(current, BaseException):
            # requests wraps urllib3's MaxRetryError, whose `reason` wraps the ssl error.
            nested = [current.__cause__, current.__context__, getattr(current, "reason", None)]
            nested += [arg for arg in current.args if isinstance(arg, BaseException)]
            stack.extend((item, depth + 1) for item in nested if isinstance(item, BaseException))
    if isinstance(exc, requests.exceptions.SSLError):
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return CERTIFICATE
        if any(t in text.lower() for t in _NOT_TLS_TEXT):
            return PLAIN_HTTP
    return None


def _verify_detail(exc: BaseException) -> str:
    stack, seen = [exc], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError) and current.verify_message:
            return str(current.verify_message)
        nested = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        nested += list(current.args)
        stack.extend(item for item in nested if isinstance(item, BaseException))
    return "certificate verify failed"


def http_url(url: str) -> str:
    return "http://" + url.split("://", 1)[1] if "://" in url else url


def tls_message(problem: str, where: str, exc: BaseException, ca_bundle: str = "") -> str:
    """The settings error for a TLS failure at `where` (a URL without secrets)."""
    if problem == PLAIN_HTTP:
        return (f"Plex at {where}: this port speaks plain http, not https. Change plex_url to "
                f"{http_url(where)} on {SETTINGS_PAGE} (or point it at the port that serves https).")
    trust = (f"plex_ca_bundle ({ca_bundle}) does not trust it: enter a PEM file that holds Plex's "
             f"certificate or the CA that signed it" if ca_bundle else
             "set plex_ca_bundle to the full path of a PEM file that holds Plex's certificate "
             "(or the CA that signed it)")
    return (f"Plex at {where} uses an https certificate this machine does not trust "
            f"({_verify_detail(exc)}): {trust} on {SETTINGS_PAGE}; for a self-signed Plex on your "
            f"own network you may instead check plex_skip_tls_verify, or use http://.")


def hint(problem: str) -> str:
    """A short fix for a TLS failure met after connecting (the message names the address)."""
    if problem == PLAIN_HTTP:
        return "This port speaks plain http, not https: start plex_url with http://. "
    return ("Plex's https certificate is not trusted: set plex_ca_bundle (or, for a self-signed "
            "local server, check plex_skip_tls_verify). ")
