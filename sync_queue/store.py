"""Where a job is at any moment: drop → inbox → ready queue → (ack | retry schedule | dead letters).

Each place is its own module with its own table: a hook's drop (drops.py), the inbox (inbox.py), the
ready queue (ready_queue.py, a persist-queue SQLiteAckQueue in the same file), the retry
schedule (retry_schedule.py) and the dead letters (dead_letters.py). This module moves
jobs between them. A job that must wait is NOT in the ready queue: it sits in the retry
schedule and is promoted when due (promise 5), so nothing ever spins over waiting work.

Every move writes the destination first and removes the source second, so a kill -9 between
the two leaves the job in two places, never in none. Duplicates are harmless: a sync reads
the scene's current state from Stash and skips scenes that did not change.

persist-queue is not safe for two consumers in two processes: only the drain lock's holder (worker/lock.py)
may call promote, claim, the routing methods and resume_unacked; counts() and waiting_ids() read only.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import replace
from typing import Callable, Dict, List, Optional, Union

from sync_queue import db, dead_letters, drops, hook_merge, inbox, retry_schedule
from sync_queue.dead_letters import DeadLetters
from sync_queue.ready_queue import Job, ReadyQueue, job_from, merge
from sync_queue.retry_schedule import RetrySchedule
from errors.kinds import ErrorKind

log = logging.getLogger(__name__)

# The tables a QueueStore opened from a path needs (the ready queue makes its own).
SCHEMAS = (inbox.SCHEMA, retry_schedule.SCHEMA, dead_letters.SCHEMA)
PROMOTE_LIMIT = 500
# Oldest inbox rows first, through inbox_enqueued_at; a scene with a schedule row is dropped.
INBOX_BATCH_SQL = (
    "SELECT i.scene_id, i.enqueued_at, i.reason, r.scene_id IS NOT NULL "
    "FROM inbox AS i LEFT JOIN retry_schedule AS r ON r.scene_id = i.scene_id "
    "ORDER BY i.enqueued_at LIMIT ?"
)
_CONFIG_ERROR_KEY = "last_config_error"  # meta


def _kind_text(kind: Union[ErrorKind, str]) -> str:
    return kind.value if isinstance(kind, ErrorKind) else str(kind)


class QueueStore:
    """The queue's state moves. Thread-safe (one lock); cross-process safety comes from the drain lock."""

    def __init__(
        self,
        data_dir_or_conn: Union[str, "os.PathLike[str]", sqlite3.Connection],
        clock: Callable[[], float] = time.time,
        promote_limit: int = PROMOTE_LIMIT,
    ):
        self._owns_conn = not isinstance(data_dir_or_conn, sqlite3.Connection)
        if isinstance(data_dir_or_conn, sqlite3.Connection):
            self.conn = data_dir_or_conn
            main_file = self.conn.execute("PRAGMA database_list").fetchone()[2]
            self.data_dir = os.path.dirname(main_file)
        else:
            self.data_dir = os.fspath(data_dir_or_conn)
            self.conn = db.open_db(self.data_dir, SCHEMAS)
        self._clock = clock
        self._promote_limit = promote_limit
        self._lock = threading.RLock()
        self._ready = ReadyQueue(self.conn, self.data_dir)
        self._schedule = RetrySchedule(self.conn)
        # Jobs absorbed without a sync: duplicates in one claim, and inbox rows or
        # ready jobs for a scene whose retry is still in the future.
        self.coalesced = 0

    def resume_unacked(self) -> int:
        """Put jobs a dead drainer had claimed back in line; only the lock holder calls this, at start."""
        with self._lock:
            return self._ready.resume_unacked()

    def close(self) -> None:
        """Close the ready queue's connections, and our connection if we opened it."""
        with self._lock:
            self._ready.close()
            if self._owns_conn:
                self.conn.close()

    # -- promotion -------------------------------------------------------------------

    def promote(self, now: Optional[float] = None) -> int:
        """Move inbox rows and due retries into the ready queue; returns how many jobs were added.

        An inbox row for a scene that has a retry_schedule row is dropped: the retry will
        read Stash's newest state when it runs. That is what stops a scan's burst of hooks
        for a file Plex has not seen yet from becoming a burst of attempts.
        """
        now = self._clock() if now is None else now
        with self._lock:
            self.merge_hook_writes(now)
            moved = self._promote_inbox(now) + self._promote_due(now)
            self._ready.clear_acked()
            return moved

    def merge_hook_writes(self, now: Optional[float] = None) -> int:
        """Move the hooks' drops (and an older version's spool) into the inbox; returns how many."""
        return hook_merge.merge(self.conn, self.data_dir, now)

    def _promote_inbox(self, now: float) -> int:
        rows = self.conn.execute(INBOX_BATCH_SQL, (self._promote_limit,)).fetchall()
        moved = 0
        for scene_id, enqueued_at, reason, waiting in rows:
            if waiting:
                self.coalesced += 1
                continue
            self._ready.put({"scene_id": scene_id, "enqueued_at": enqueued_at, "reason": reason})
            moved += 1
        if rows:
            # Only the version we read: a hook that re-queued the scene meanwhile keeps its row.
            with db.transaction(self.conn):
                self.conn.executemany(
                    "DELETE FROM inbox WHERE scene_id = ? AND enqueued_at = ?",
                    [(r[0], r[1]) for r in rows],
                )
        return moved

    def _promote_due(self, now: float) -> int:
        rows = self._schedule.due(now, self._promote_limit)
        for scene_id, attempts, _not_before, first_failed_at in rows:
            self._ready.put(
                {
                    "scene_id": scene_id,
                    # The promotion time: only a sync that read Stash after this may absorb it.
                    "enqueued_at": now,
                    "reason": "retry",
                    "attempts": attempts,
                    "first_failed_at": first_failed_at,
                }
            )
        self._schedule.remove(rows)
        return len(rows)

    # -- claiming --------------------------------------------------------------------

    def claim(self, limit: int, now: Optional[float] = None) -> List[Job]:
        """Take up to `limit` ready jobs without blocking, one per scene.

        A claimed job whose scene has a retry in the future is acked and dropped (the retry
        covers it), so no path can attempt a waiting scene early.
        """
        now = self._clock() if now is None else now
        with self._lock:
            by_scene: Dict[int, Job] = {}
            for _ in range(max(0, limit)):
                item = self._ready.take()
                if item is None:
                    break
                try:
                    job = job_from(item)
                except (KeyError, TypeError, ValueError):
                    log.warning("dropping a malformed ready-queue entry %r", item)
                    self._ready.ack_failed(item["pqid"])
                    continue
                if job.scene_id in by_scene:
                    by_scene[job.scene_id] = merge(by_scene[job.scene_id], job)
                    self._ready.ack(job.pqid)
                    self.coalesced += 1
                else:
                    by_scene[job.scene_id] = job
            return self._apply_schedule(list(by_scene.values()), now)

    def _apply_schedule(self, jobs: List[Job], now: float) -> List[Job]:
        waiting = self._schedule.waiting([j.scene_id for j in jobs])
        kept = []
        for job in jobs:
            if job.scene_id not in waiting:
                kept.append(job)
                continue
            not_before, attempts = waiting[job.scene_id]
            if not_before > now:
                self._ready.ack(job.pqid)
                self.coalesced += 1
            else:
                kept.append(replace(job, attempts=max(job.attempts, attempts)))
        return kept

    def has_ready(self) -> bool:
        """Anything in the inbox or the ready queue (claimed jobs excluded)."""
        with self._lock:
            if self.conn.execute("SELECT 1 FROM inbox LIMIT 1").fetchone():
                return True
            return self._ready.has_waiting()

    def waiting_ids(self, limit: int) -> List[int]:
        with self._lock:
            return self._ready.waiting_ids(limit)

    def next_retry_at(self) -> Optional[float]:
        with self._lock:
            return self._schedule.next_at()

    # -- routing a claimed job -------------------------------------------------------

    def ack(self, job: Job) -> None:
        """Done with no further record (e.g. absorbed by a newer sync)."""
        with self._lock:
            self._ready.ack(job.pqid)

    def release(self, job: Job) -> None:
        """Back to the ready queue untouched: no attempt is counted (config pause, breaker open)."""
        with self._lock:
            self._ready.nack(job.pqid)

    def defer(
        self,
        job: Job,
        not_before: float,
        attempts: int,
        kind: Union[ErrorKind, str],
        message: str,
        now: Optional[float] = None,
    ) -> None:
        """Park the scene in the retry schedule until `not_before`, then ack the claimed job."""
        now = self._clock() if now is None else now
        first = job.first_failed_at if job.first_failed_at is not None else now
        with self._lock:
            self._schedule.park(job.scene_id, not_before, attempts, _kind_text(kind), message, first)
            self._ready.ack(job.pqid)

    def dead_letter(
        self,
        job: Job,
        kind: Union[ErrorKind, str],
        message: str,
        attempts: int,
        now: Optional[float] = None,
    ) -> None:
        """Record why the scene cannot be synced (one open entry per scene), then ack."""
        now = self._clock() if now is None else now
        with self._lock:
            with db.transaction(self.conn):
                DeadLetters(self.conn).add(job.scene_id, _kind_text(kind), message, attempts, now)
                self._schedule.forget(job.scene_id)
            self._ready.ack(job.pqid)

    def succeeded(self, job: Job, now: Optional[float] = None) -> None:
        """The scene is in step: forget its retry, resolve its dead letters, ack."""
        now = self._clock() if now is None else now
        with self._lock:
            with db.transaction(self.conn):
                self._schedule.forget(job.scene_id)
                DeadLetters(self.conn).resolve_scene(job.scene_id, now)
            self._ready.ack(job.pqid)

    # -- why draining stopped --------------------------------------------------------

    def note_config_error(self, message: str, now: float, settings_hash: Optional[str] = None) -> None:
        """Remember why draining stopped, for Queue Status and the next drainer."""
        with self._lock:
            db.set_meta(self.conn, _CONFIG_ERROR_KEY, {"message": message, "at": now, "settings_hash": settings_hash})

    def last_config_error(self) -> Optional[dict]:
        return db.get_meta(self.conn, _CONFIG_ERROR_KEY)

    def clear_config_error(self) -> None:
        """A drain that got past the settings check proves they work again."""
        with self._lock:
            db.delete_meta(self.conn, _CONFIG_ERROR_KEY)

    # -- status ----------------------------------------------------------------------

    def is_queued(self, scene_id: int) -> bool:
        """A job for the scene is dropped by a hook, in the inbox or the ready queue (not waiting for a retry)."""
        with self._lock:
            return (any(job[0] == int(scene_id) for _path, job in drops.pending(self.data_dir))
                    or self.conn.execute("SELECT 1 FROM inbox WHERE scene_id = ?", (int(scene_id),)).fetchone()
                    is not None or self._ready.holds(scene_id))

    def counts(self, now: Optional[float] = None) -> dict:
        """Queue sizes for status and progress (`pending` counts unmerged drops). Safe from any process."""
        now = self._clock() if now is None else now
        dropped = len(drops.pending(self.data_dir))
        with self._lock:
            inbox_n = int(self.conn.execute("SELECT count(*) FROM inbox").fetchone()[0])
            ready = self._ready.count(claimed=False)
            in_flight = self._ready.count(claimed=True)
            by_kind = self._schedule.by_kind()
            return {
                "pending": dropped + inbox_n + ready + in_flight,
                "dropped": dropped,
                "inbox": inbox_n,
                "ready": ready,
                "in_flight": in_flight,
                "deferred": sum(by_kind.values()),
                "due_retries": self._schedule.due_count(now),
                "next_retry_at": self._schedule.next_at(),
                "deferred_by_kind": by_kind,
                "dead_letters": DeadLetters(self.conn).count(),
            }
