"""A circuit breaker whose state lives in SQLite, so every process honours an open circuit.

CLOSED: jobs run; `breaker_threshold` consecutive transient failures open it.
OPEN: nothing is attempted until probe_at.
HALF_OPEN: exactly one probe is out. The transition is a compare-and-set in SQL, so two
processes cannot both probe. The probe's success closes the circuit (and the outage);
its failure reopens it with the recovery wait doubled, up to the cap: a quick Plex
restart costs seconds, a long outage costs one request a minute.

This module owns the breaker and outages tables (`SCHEMA`).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Callable, Optional

from sync_queue import db
from errors.kinds import ErrorKind

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
# A probe not answered within this time is presumed lost with its process; another may go.
PROBE_LEASE_SECONDS = 120.0
SCHEMA: db.Schema = ("breaker", (
    (1, (
        "CREATE TABLE IF NOT EXISTS breaker ("
        " id INTEGER PRIMARY KEY CHECK (id = 1),"
        " state TEXT NOT NULL,"
        " failures INTEGER NOT NULL,"
        " opened_at REAL,"
        " probe_at REAL,"
        " recovery_wait REAL,"
        " last_error TEXT)",
        "CREATE TABLE IF NOT EXISTS outages ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " started_at REAL NOT NULL,"
        " ended_at REAL NULL,"
        " jobs_held INTEGER NOT NULL DEFAULT 0,"
        " reason TEXT)",
    )),
))


class CircuitBreaker:
    def __init__(self, conn: sqlite3.Connection, settings: Any, clock: Callable[[], float] = time.time):
        self.conn = conn
        self.settings = settings
        self._clock = clock
        self.holds_probe = False  # this instance won the current half-open probe
        with db.transaction(conn):
            conn.execute(
                "INSERT OR IGNORE INTO breaker (id, state, failures, recovery_wait) VALUES (1, ?, 0, ?)",
                (CLOSED, settings.breaker_recovery_start),
            )

    def _now(self, now: Optional[float]) -> float:
        return self._clock() if now is None else now

    def _row(self) -> dict:
        row = self.conn.execute(
            "SELECT state, failures, opened_at, probe_at, recovery_wait, last_error FROM breaker WHERE id = 1"
        ).fetchone()
        keys = ("state", "failures", "opened_at", "probe_at", "recovery_wait", "last_error")
        return dict(zip(keys, row))

    def allow(self, now: Optional[float] = None) -> bool:
        """May a job be attempted now? Past probe_at this returns True exactly once (the probe)."""
        now = self._now(now)
        row = self._row()
        if row["state"] == CLOSED:
            return True
        if row["probe_at"] is not None and now < row["probe_at"]:
            return False
        # OPEN past its wait, or HALF_OPEN whose prober vanished: take the probe if nobody else did.
        with db.transaction(self.conn):
            won = self.conn.execute(
                "UPDATE breaker SET state = ?, probe_at = ? WHERE id = 1 AND state = ? "
                "AND (probe_at IS NULL OR probe_at <= ?)",
                (HALF_OPEN, now + PROBE_LEASE_SECONDS, row["state"], now),
            ).rowcount
        self.holds_probe = bool(won)
        return self.holds_probe

    def cancel_probe(self, now: Optional[float] = None) -> None:
        """The probe found nothing to try: reopen with the probe due at once, wait unchanged."""
        now = self._now(now)
        if self.holds_probe:
            with db.transaction(self.conn):
                self.conn.execute(
                    "UPDATE breaker SET state = ?, probe_at = ? WHERE id = 1 AND state = ?",
                    (OPEN, now, HALF_OPEN),
                )
        self.holds_probe = False

    def success(self, now: Optional[float] = None) -> None:
        """Plex answered: reset the count; if the circuit was open, close it and end the outage."""
        now = self._now(now)
        self.holds_probe = False
        row = self._row()
        if row["state"] == CLOSED and not row["failures"]:
            return  # the common case costs one read
        self._close(now)

    def _close(self, now: float) -> None:
        with db.transaction(self.conn):
            self.conn.execute(
                "UPDATE breaker SET state = ?, failures = 0, opened_at = NULL, probe_at = NULL, "
                "recovery_wait = ? WHERE id = 1",
                (CLOSED, self.settings.breaker_recovery_start),
            )
            self.conn.execute("UPDATE outages SET ended_at = ? WHERE ended_at IS NULL", (now,))

    def reset(self, now: Optional[float] = None) -> None:
        """The way Plex is reached changed (a new URL or token): forget the old failures.

        The circuit closes and the next job goes out at once; if the new address fails
        too, the failures count afresh and the circuit opens again.
        """
        self.holds_probe = False
        self._close(self._now(now))

    def failure(self, kind: ErrorKind, message: str, now: Optional[float] = None, force: bool = False) -> bool:
        """Count a failure (only TRANSIENT ones count); returns True when the circuit is now open.

        `force` opens a closed circuit whatever the count: the failing job would otherwise
        be dead-lettered for an outage that is not its fault.
        """
        now = self._now(now)
        if kind is not ErrorKind.TRANSIENT:
            return self._row()["state"] != CLOSED
        with db.transaction(self.conn):
            row = self._row()
            if row["state"] == CLOSED:
                failures = row["failures"] + 1
                if failures < self.settings.breaker_threshold and not force:
                    self.conn.execute(
                        "UPDATE breaker SET failures = ?, last_error = ? WHERE id = 1", (failures, message)
                    )
                    return False
                wait = self.settings.breaker_recovery_start
                self.conn.execute(
                    "UPDATE breaker SET state = ?, failures = ?, opened_at = ?, probe_at = ?, "
                    "recovery_wait = ?, last_error = ? WHERE id = 1",
                    (OPEN, failures, now, now + wait, wait, message),
                )
                self.conn.execute(
                    "INSERT INTO outages (started_at, jobs_held, reason) VALUES (?, 0, ?)", (now, message)
                )
            elif row["state"] == HALF_OPEN:
                wait = min(self.settings.breaker_recovery_cap, (row["recovery_wait"] or 0) * 2.0)
                wait = max(wait, self.settings.breaker_recovery_start)
                self.conn.execute(
                    "UPDATE breaker SET state = ?, probe_at = ?, recovery_wait = ?, last_error = ? WHERE id = 1",
                    (OPEN, now + wait, wait, message),
                )
            else:  # already open: a straggler from a batch that started before it opened
                self.conn.execute("UPDATE breaker SET last_error = ? WHERE id = 1", (message,))
        self.holds_probe = False
        return True

    def note_jobs_held(self, count: int) -> None:
        """Record how much work the current outage is holding back (the largest seen)."""
        with db.transaction(self.conn):
            self.conn.execute(
                "UPDATE outages SET jobs_held = max(jobs_held, ?) WHERE ended_at IS NULL", (int(count),)
            )

    def settled(self) -> bool:
        """Closed with no failure counted: Plex is answering, so optional work may go ahead."""
        row = self._row()
        return row["state"] == CLOSED and not row["failures"]

    def failures(self) -> int:
        """Consecutive transient failures counted so far."""
        return int(self._row()["failures"] or 0)

    def next_probe_at(self) -> Optional[float]:
        row = self._row()
        return None if row["state"] == CLOSED else row["probe_at"]

    def state(self, now: Optional[float] = None) -> str:
        """closed, open, or half_open (a probe is out, or due now)."""
        now = self._now(now)
        row = self._row()
        if row["state"] == OPEN and row["probe_at"] is not None and now >= row["probe_at"]:
            return HALF_OPEN
        return row["state"]

    def recovered_at(self) -> Optional[float]:
        """When the last outage ended (the worker drains politely for a while after it)."""
        return self.conn.execute("SELECT max(ended_at) FROM outages").fetchone()[0]

    def snapshot(self, recent: int = 5) -> dict:
        """Everything Queue Status shows about the breaker and recent outages."""
        row = self._row()
        outages = [
            dict(zip(("started_at", "ended_at", "jobs_held", "reason"), r))
            for r in self.conn.execute(
                "SELECT started_at, ended_at, jobs_held, reason FROM outages ORDER BY id DESC LIMIT ?",
                (recent,),
            )
        ]
        row["current_outage"] = outages[0] if outages and outages[0]["ended_at"] is None else None
        row["recent_outages"] = outages
        return row
