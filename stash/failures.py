"""What stashapi's failures mean, as our error kinds.

stashapi logs an HTTP failure itself, then raises a bare Exception whose text starts
with the status ("401 Unauthorized query failed…"); GraphQL errors come in the body of
a 200. The reader passes the last response it saw, so the status is read from there
when there is one.
"""

from __future__ import annotations

from typing import List, Optional

import requests

from errors.kinds import ConfigError, StashUnavailable


class GraphQLError(RuntimeError):
    """Stash answered the query with GraphQL errors (their messages are the text)."""


def _graphql_errors(response: Optional[requests.Response]) -> List[dict]:
    if response is None:
        return []
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return []
    return [e for e in errors if isinstance(e, dict)]


def from_stashapi(exc: Exception, response: Optional[requests.Response], where: str) -> Exception:
    """Our error kind for what stashapi raised (it logs, then raises a bare Exception
    whose text starts with the HTTP status)."""
    if response is not None:
        status: Optional[int] = response.status_code
    else:
        head = str(exc).split(" ", 1)[0]
        status = int(head) if head.isdigit() else None
    if status in (401, 403):
        return ConfigError(
            f"Stash rejected the plugin's session ({status}) at {where}: with authentication on, "
            "run the plugin from Stash (it passes a fresh session) or check Stash's API key settings."
        )
    if status == 429 or (status or 0) >= 500:
        return StashUnavailable(f"Stash at {where} answered {status}; will retry")
    if status is not None and status != 200:
        return ConfigError(f"Stash at {where} answered {status}: check that this is Stash's address")
    errors = _graphql_errors(response)
    messages = "; ".join(str(e.get("message", ""))[:200] for e in errors) or str(exc)[:200]
    if "database is locked" in messages.lower():
        return StashUnavailable(f"Stash's database is busy ({messages}); will retry")
    codes = {str((e.get("extensions") or {}).get("code", "")) for e in errors}
    if "GRAPHQL_VALIDATION_FAILED" in codes:
        return ConfigError(f"Stash rejected Stash2Plex's query ({messages}); this Stash version may "
                           "be too old: update Stash.")
    return GraphQLError(f"Stash GraphQL query failed: {messages}")
