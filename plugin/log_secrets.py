"""Which values no log line may show, known in one place for every process that logs.

A task and the background drainer both register them: the Stash session cookie as soon
as the connection is known, the secret settings each time the settings are read.
Standard library only, like plugin/stashlog.py where the secrets are kept.
"""

from __future__ import annotations

from plugin import stashlog

# Settings whose values are secrets (the Settings field names).
SECRET_SETTINGS = ("plex_token",)


def hide_connection_secrets(server_connection: dict) -> None:
    """The session cookie Stash hands the plugin (it signs in to Stash with it)."""
    stashlog.add_secret((server_connection.get("SessionCookie") or {}).get("Value"))


def hide_setting_secrets(settings) -> None:
    """Every secret setting, read again after each settings change (a new token too)."""
    for name in SECRET_SETTINGS:
        stashlog.add_secret(getattr(settings, name))
