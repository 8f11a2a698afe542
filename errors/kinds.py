"""Error kinds, and exceptions that carry their own routing.

Every failure of a sync ends up as one of a handful of kinds, and the kind alone
decides what happens to the job (see worker/policy.py). Code in plex/, stash/ and
validation/ raises these classes so the worker never has to guess from a message;
third-party exceptions (plexapi, requests) are mapped in worker/classify.py.

Standard library only: the hook path may import this module.
"""

from __future__ import annotations

from enum import Enum


class ErrorKind(str, Enum):
    """How a failure is routed."""

    TRANSIENT = "transient"  # connection refused, timeout, 429, 5xx: back off, feed the breaker
    NOT_FOUND = "not_found"  # Plex has not scanned the file yet: long backoff, never trips the breaker
    CONFIG = "config"  # bad token, unknown library, bad URL: stop draining, keep every job
    PERMANENT = "permanent"  # scene deleted, data Plex rejects: dead letter at once
    UNEXPECTED = "unexpected"  # a bug or an unknown failure: retry a few times, then dead letter
    STASH = "stash"  # Stash could not serve a read (a screenshot answering 500): back off, never the Plex breaker


class SyncError(Exception):
    """Base of our own errors; `kind` says how the worker routes it."""

    kind: ErrorKind = ErrorKind.UNEXPECTED

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class TransientError(SyncError):
    """Worth retrying soon: the server may answer next time."""

    kind = ErrorKind.TRANSIENT


class StashUnavailable(SyncError):
    """Stash failed to serve what a sync needs; says nothing about Plex (promise 7)."""

    kind = ErrorKind.STASH


class NotFoundYet(SyncError):
    """The scene's file is not in Plex (yet): Plex may not have scanned it."""

    kind = ErrorKind.NOT_FOUND


class ConfigError(SyncError):
    """A setting is wrong; retrying cannot help until the user fixes it."""

    kind = ErrorKind.CONFIG


class PermanentError(SyncError):
    """This job can never succeed as it stands (e.g. the scene was deleted)."""

    kind = ErrorKind.PERMANENT


class InvalidMetadata(PermanentError):
    """Scene data that fails validation; the message names the field and why."""


class AmbiguousMatch(PermanentError):
    """More than one Plex item claims the scene's file; strict mode never guesses."""

    def __init__(self, path: str, candidates: list, hint: str = ""):
        names = ", ".join(str(c) for c in candidates)
        super().__init__(f"ambiguous match for {path}: {names}" + (f"; {hint}" if hint else ""))
        self.path = path
        self.candidates = list(candidates)
