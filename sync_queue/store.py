"""Where a job is at any moment: inbox → ready queue → (ack | retry schedule | dead letters).

The ready queue is a persist-queue SQLiteAckQueue in the same file. A job that must
wait is NOT in it: it sits in retry_schedule with its not-before time and is promoted
when due (promise 5), so nothing ever spins over waiting work.

Every move writes the destination first and removes the source second, so a kill -9
between the two leaves the job in two places, never in none. Duplicates are harmless:
a sync reads the scene's current state from Stash and skips scenes that did not change.

persist-queue is not safe for two consumers in two processes: only the holder of the
drain lock (worker/lock.py) may call promote, claim, the routing methods and
resume_unacked. counts() is safe from anywhere.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Union

import persistqueue.serializers.json as json_serializer
from persistqueue import SQLiteAckQueue
from persistqueue.exceptions import Empty

from sync_queue import db, spool
from errors.kinds import ErrorKind

log = logging.getLogger(__name__)

READY_NAME = "ready"
READY_TABLE = f"ack_queue_{READY_NAME}"  # persist-queue names its table ack_queue_<name>
# persist-queue statuses: 0 inited and 1 ready wait to be claimed, 2 is claimed (unacked).
_UNACK = 2
PROMOTE_LIMIT = 500
# Oldest inbox rows first, through inbox_enqueued_at; a scene with a schedule row is dropped.
INBOX_BATCH_SQL = (
    "SELECT i.scene_id, i.enqueued_at, i.reason, r.scene_id IS NOT NULL "
    "FROM inbox AS i LEFT JOIN retry_schedule AS r ON r.scene_id = i.scene_id "
    "ORDER BY i.enqueued_at LIMIT ?"
)
# Through retry_schedule_not_before with a LIMIT: the cost does not depend on how many wait.
DUE_RETRIES_SQL = (
    "SELECT scene_id, attempts, not_before, first_failed_at FROM retry_schedule "
    "WHERE not_before <= ? ORDER BY not_before LIMIT ?"
)


@dataclass(frozen=True)
class Job:
    """One claimed unit of work: sync this scene (its current Stash state)."""

    pqid: int
    scene_id: int
    enqueued_at: float
    reason: str
    attempts: int = 0
    first_failed_at: Optional[float] = None


def _kind_text(kind: Union[ErrorKind, str]) -> str:
    return kind.value if isinstance(kind, ErrorKind) else str(kind)


def _job_from(item: dict) -> Job:
    data = item["data"]
    return Job(
        pqid=int(item["pqid"]),
        scene_id=int(data["scene_id"]),
        enqueued_at=float(data["enqueued_at"]),
        reason=str(data.get("reason", "")),
        attempts=int(data.get("attempts", 0)),
        first_failed_at=data.get("first_failed_at"),
    )


def _merge(kept: Job, other: Job) -> Job:
    """Two claimed jobs for one scene become one: the newest time, the most attempts."""
    first = [t for t in (kept.first_failed_at, other.first_failed_at) if t is not None]
    return replace(
        kept,
        enqueued_at=max(kept.enqueued_at, other.enqueued_at),
        attempts=max(kept.attempts, other.attempts),
        first_failed_at=min(first) if first else None,
    )


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
            self.conn = db.open_db(self.data_dir)
        self._clock = clock
        self._promote_limit = promote_limit
        self._lock = threading.RLock()
        self._ready: Optional[SQLiteAckQueue] = None
        self._acked_since_clear = 0
        # Jobs absorbed without a sync: duplicates in one claim, and inbox rows or
        # ready jobs for a scene whose retry is still in the future.
        self.coalesced = 0

    # -- the ready queue -------------------------------------------------------------

    def _queue(self) -> SQLiteAckQueue:
        """Opened lazily: a status reader must never instantiate it (that could resume unacked work)."""
        if self._ready is None:
            self._ready = SQLiteAckQueue(
                self.data_dir,
                name=READY_NAME,
                db_file_name=db.DB_FILE_NAME,
                multithreading=True,
                auto_commit=True,
                serializer=json_serializer,
                timeout=db.inbox.BUSY_TIMEOUT_SECONDS,
                auto_resume=False,
            )
        return self._ready

    def resume_unacked(self) -> int:
        """Put jobs a dead drainer had claimed back in line; only the lock holder calls this, at start."""
        with self._lock:
            queue = self._queue()
            count = queue.unack_count()
            queue.resume_unack_tasks()
            return count

    def close(self) -> None:
        """Close the ready queue's connections, and our connection if we opened it."""
        with self._lock:
            if self._ready is not None:
                self._ready.close()
                self._ready = None
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
            self.merge_spool(now)
            moved = self._promote_inbox(now) + self._promote_due(now)
            if self._acked_since_clear:
                self._queue().clear_acked_data(max_delete=None, keep_latest=0)
                self._acked_since_clear = 0
            return moved

    def merge_spool(self, now: Optional[float] = None) -> int:
        """Move scene ids that hooks spooled (the file was busy or full) into the inbox."""
        return spool.merge(self.conn, self.data_dir, db.inbox.UPSERT_INBOX_SQL, now)

    def _promote_inbox(self, now: float) -> int:
        rows = self.conn.execute(INBOX_BATCH_SQL, (self._promote_limit,)).fetchall()
        moved = 0
        for scene_id, enqueued_at, reason, waiting in rows:
            if waiting:
                self.coalesced += 1
                continue
            self._queue().put({"scene_id": scene_id, "enqueued_at": enqueued_at, "reason": reason})
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
        rows = self.conn.execute(DUE_RETRIES_SQL, (now, self._promote_limit)).fetchall()
        for scene_id, attempts, _not_before, first_failed_at in rows:
            self._queue().put(
                {
                    "scene_id": scene_id,
                    # The promotion time: only a sync that read Stash after this may absorb it.
                    "enqueued_at": now,
                    "reason": "retry",
                    "attempts": attempts,
                    "first_failed_at": first_failed_at,
                }
            )
        if rows:
            with db.transaction(self.conn):
                self.conn.executemany(
                    "DELETE FROM retry_schedule WHERE scene_id = ? AND not_before = ?",
                    [(r[0], r[2]) for r in rows],
                )
        return len(rows)

    # -- claiming --------------------------------------------------------------------

    def claim(self, limit: int, now: Optional[float] = None) -> List[Job]:
        """Take up to `limit` ready jobs without blocking, one per scene.

        A claimed job whose scene has a retry in the future is acked and dropped (the retry
        covers it), so no path can attempt a waiting scene early.
        """
        now = self._clock() if now is None else now
        with self._lock:
            queue = self._queue()
            by_scene: Dict[int, Job] = {}
            for _ in range(max(0, limit)):
                try:
                    item = queue.get(block=False, raw=True)
                except Empty:
                    break
                try:
                    job = _job_from(item)
                except (KeyError, TypeError, ValueError):
                    log.warning("dropping a malformed ready-queue entry %r", item)
                    queue.ack_failed(id=item["pqid"])
                    continue
                if job.scene_id in by_scene:
                    by_scene[job.scene_id] = _merge(by_scene[job.scene_id], job)
                    self._ack_id(job.pqid)
                    self.coalesced += 1
                else:
                    by_scene[job.scene_id] = job
            return self._apply_schedule(list(by_scene.values()), now)

    def _apply_schedule(self, jobs: List[Job], now: float) -> List[Job]:
        if not jobs:
            return jobs
        marks = ",".join("?" * len(jobs))
        waiting = {
            row[0]: (row[1], row[2])
            for row in self.conn.execute(
                f"SELECT scene_id, not_before, attempts FROM retry_schedule WHERE scene_id IN ({marks})",
                [j.scene_id for j in jobs],
            )
        }
        kept = []
        for job in jobs:
            if job.scene_id not in waiting:
                kept.append(job)
                continue
            not_before, attempts = waiting[job.scene_id]
            if not_before > now:
                self._ack_id(job.pqid)
                self.coalesced += 1
            else:
                kept.append(replace(job, attempts=max(job.attempts, attempts)))
        return kept

    def has_ready(self) -> bool:
        """Anything in the inbox or the ready queue (claimed jobs excluded)."""
        with self._lock:
            if self.conn.execute("SELECT 1 FROM inbox LIMIT 1").fetchone():
                return True
            return self._ready_row("SELECT 1 FROM {table} WHERE status < ? LIMIT 1", (_UNACK,)) is not None

    def next_retry_at(self) -> Optional[float]:
        with self._lock:
            return self.conn.execute("SELECT min(not_before) FROM retry_schedule").fetchone()[0]

    # -- routing a claimed job -------------------------------------------------------

    def _ack_id(self, pqid: int) -> None:
        self._queue().ack(id=pqid)
        self._acked_since_clear += 1

    def ack(self, job: Job) -> None:
        """Done with no further record (e.g. absorbed by a newer sync)."""
        with self._lock:
            self._ack_id(job.pqid)

    def release(self, job: Job) -> None:
        """Back to the ready queue untouched: no attempt is counted (config pause, breaker open)."""
        with self._lock:
            self._queue().nack(id=job.pqid)

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
            with db.transaction(self.conn):
                self.conn.execute(
                    "INSERT INTO retry_schedule "
                    "(scene_id, attempts, not_before, error_kind, last_error, first_failed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scene_id) DO UPDATE SET "
                    "attempts = max(retry_schedule.attempts, excluded.attempts), "
                    "not_before = excluded.not_before, error_kind = excluded.error_kind, "
                    "last_error = excluded.last_error, "
                    "first_failed_at = coalesce(retry_schedule.first_failed_at, excluded.first_failed_at)",
                    (job.scene_id, attempts, not_before, _kind_text(kind), message, first),
                )
            self._ack_id(job.pqid)

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
        values = (_kind_text(kind), message, attempts, now, job.scene_id)
        with self._lock:
            with db.transaction(self.conn):
                updated = self.conn.execute(
                    "UPDATE dead_letters SET error_kind = ?, message = ?, attempts = ?, failed_at = ? "
                    "WHERE scene_id = ? AND resolved_at IS NULL",
                    values,
                ).rowcount
                if not updated:
                    self.conn.execute(
                        "INSERT INTO dead_letters (error_kind, message, attempts, failed_at, scene_id) "
                        "VALUES (?, ?, ?, ?, ?)",
                        values,
                    )
                self.conn.execute("DELETE FROM retry_schedule WHERE scene_id = ?", (job.scene_id,))
            self._ack_id(job.pqid)

    def succeeded(self, job: Job, now: Optional[float] = None) -> None:
        """The scene is in step: forget its retry, resolve its dead letters, ack."""
        now = self._clock() if now is None else now
        with self._lock:
            with db.transaction(self.conn):
                self.conn.execute("DELETE FROM retry_schedule WHERE scene_id = ?", (job.scene_id,))
                self.conn.execute(
                    "UPDATE dead_letters SET resolved_at = ? WHERE scene_id = ? AND resolved_at IS NULL",
                    (now, job.scene_id),
                )
            self._ack_id(job.pqid)

    def note_config_error(self, message: str, now: float, settings_hash: Optional[str] = None) -> None:
        """Remember why draining stopped, for Queue Status and the next drainer."""
        with self._lock:
            db.set_meta(
                self.conn,
                "last_config_error",
                {"message": message, "at": now, "settings_hash": settings_hash},
            )

    def last_config_error(self) -> Optional[dict]:
        return db.get_meta(self.conn, "last_config_error")

    def clear_config_error(self) -> None:
        """A drain that got past the settings check proves they work again."""
        with self._lock:
            db.delete_meta(self.conn, "last_config_error")

    # -- status ----------------------------------------------------------------------

    def _ready_row(self, select: str, params: tuple) -> Optional[tuple]:
        """One row from the ready table; None before any drainer has created it."""
        try:
            return self.conn.execute(select.format(table=READY_TABLE), params).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise

    def _count_ready(self, where: str, params: tuple) -> int:
        row = self._ready_row(f"SELECT count(*) FROM {{table}} WHERE {where}", params)
        return int(row[0]) if row else 0

    def _scalar(self, sql: str, params: tuple = ()) -> object:
        return self.conn.execute(sql, params).fetchone()[0]

    def counts(self, now: Optional[float] = None) -> dict:
        """Queue sizes for status and progress. Safe from any process."""
        now = self._clock() if now is None else now
        with self._lock:
            one = self._scalar
            inbox_n = int(one("SELECT count(*) FROM inbox"))
            ready = self._count_ready("status < ?", (_UNACK,))
            in_flight = self._count_ready("status = ?", (_UNACK,))
            by_kind = {
                kind or "unknown": int(n)
                for kind, n in self.conn.execute(
                    "SELECT error_kind, count(*) FROM retry_schedule GROUP BY error_kind"
                )
            }
            return {
                "pending": inbox_n + ready + in_flight,
                "inbox": inbox_n,
                "ready": ready,
                "in_flight": in_flight,
                "deferred": sum(by_kind.values()),
                "due_retries": int(one("SELECT count(*) FROM retry_schedule WHERE not_before <= ?", (now,))),
                "next_retry_at": one("SELECT min(not_before) FROM retry_schedule"),
                "deferred_by_kind": by_kind,
                "dead_letters": int(one("SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL")),
            }
