"""Stash's log channel: stderr lines of `\\x01` + level + `\\x02` + text.

Standard library only (no `logging` import): the hook path logs through here.
A line without the prefix shows in Stash as an error, and one line of 64 KiB or more
makes Stash stop reading stderr, so every message is redacted, flattened to one line
and capped.
"""

from __future__ import annotations

import sys

LEVELS = {"trace": "t", "debug": "d", "info": "i", "warning": "w", "error": "e"}
MAX_MESSAGE_CHARS = 8000

_secrets: set = set()
_SECRET_PATTERNS: list = []  # compiled on first use: `re` costs the hook path ~5 ms


def _patterns() -> list:
    if not _SECRET_PATTERNS:
        import re

        _SECRET_PATTERNS.extend(
            [
                re.compile(r"(?i)(x-plex-token[=:]\s*)[^&\s'\"<>]+"),
                re.compile(r"(?i)(apikey[=:]\s*)[^&\s'\"<>]+"),
                re.compile(r"(?i)(\bsession=)[^;&\s'\"<>]+"),
            ]
        )
    return _SECRET_PATTERNS


def add_secret(value: object) -> None:
    """Remember a secret so that no message ever shows it."""
    text = str(value or "")
    if len(text) >= 4:
        _secrets.add(text)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "****")
    for pattern in _patterns():
        text = pattern.sub(r"\1****", text)
    return text


def clean(text: object) -> str:
    """One redacted, capped line."""
    line = redact(str(text)).replace("\r", " ").replace("\n", " | ")
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[:MAX_MESSAGE_CHARS] + f"… ({len(line) - MAX_MESSAGE_CHARS} more chars cut)"
    return line


def emit(level: str, text: object, stream=None) -> None:
    """Write one log line in Stash's format; never raises."""
    out = stream or sys.stderr
    try:
        out.write(f"\x01{LEVELS.get(level, 'i')}\x02{clean(text)}\n")
        out.flush()
    except (OSError, ValueError):
        pass  # Stash closed stderr (task stopped): nothing left to tell


def progress(fraction: float, stream=None) -> None:
    """Stash shows this as the task's progress bar (tasks only)."""
    out = stream or sys.stderr
    value = min(1.0, max(0.0, float(fraction)))
    try:
        out.write(f"\x01p\x02{value:.4f}\n")
        out.flush()
    except (OSError, ValueError):
        pass
