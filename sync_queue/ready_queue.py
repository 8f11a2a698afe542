"""The ready queue: jobs due now, in a persist-queue SQLiteAckQueue inside the queue file.

persist-queue creates and owns its table (`ack_queue_ready`); no migration here touches
it. It is not safe for two consumers in two processes, so only the holder of the drain
lock (worker/lock.py) may take, ack or resume jobs; the counts read the table directly
and are safe from anywhere.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from typing import List, Optional

from sync_queue.persist_import import skip_async_queues

skip_async_queues()  # before persistqueue: its __init__ would import asyncio

import persistqueue.serializers.json as json_serializer  # noqa: E402
from persistqueue import SQLiteAckQueue  # noqa: E402
from persistqueue.exceptions import Empty  # noqa: E402

from sync_queue import inbox

READY_NAME = "ready"
READY_TABLE = f"ack_queue_{READY_NAME}"  # persist-queue names its table ack_queue_<name>
# persist-queue statuses: 0 inited and 1 ready wait to be claimed, 2 is claimed (unacked).
UNACK = 2


@dataclass(frozen=True)
class Job:
    """One claimed unit of work: sync this scene (its current Stash state)."""

    pqid: int
    scene_id: int
    enqueued_at: float
    reason: str
    attempts: int = 0
    first_failed_at: Optional[float] = None


def job_from(item: dict) -> Job:
    """The job in a raw ready-queue entry; KeyError, TypeError or ValueError when malformed."""
    data = item["data"]
    return Job(
        pqid=int(item["pqid"]),
        scene_id=int(data["scene_id"]),
        enqueued_at=float(data["enqueued_at"]),
        reason=str(data.get("reason", "")),
        attempts=int(data.get("attempts", 0)),
        first_failed_at=data.get("first_failed_at"),
    )


def merge(kept: Job, other: Job) -> Job:
    """Two claimed jobs for one scene become one: the newest time, the most attempts."""
    first = [t for t in (kept.first_failed_at, other.first_failed_at) if t is not None]
    return replace(
        kept,
        enqueued_at=max(kept.enqueued_at, other.enqueued_at),
        attempts=max(kept.attempts, other.attempts),
        first_failed_at=min(first) if first else None,
    )


class ReadyQueue:
    """The ack queue, opened lazily: a status reader must never instantiate it (that could resume unacked work)."""

    def __init__(self, conn: sqlite3.Connection, data_dir: str):
        self.conn = conn
        self.data_dir = data_dir
        self._queue: Optional[SQLiteAckQueue] = None
        self._acked_since_clear = 0

    def _opened(self) -> SQLiteAckQueue:
        if self._queue is None:
            self._queue = SQLiteAckQueue(
                self.data_dir,
                name=READY_NAME,
                db_file_name=inbox.DB_FILE_NAME,
                multithreading=True,
                auto_commit=True,
                serializer=json_serializer,
                timeout=inbox.BUSY_TIMEOUT_SECONDS,
                auto_resume=False,
            )
        return self._queue

    def put(self, payload: dict) -> None:
        self._opened().put(payload)

    def take(self) -> Optional[dict]:
        """The next raw entry (it is claimed: unacked until routed), or None when none is ready."""
        try:
            return self._opened().get(block=False, raw=True)
        except Empty:
            return None

    def ack(self, pqid: int) -> None:
        self._opened().ack(id=pqid)
        self._acked_since_clear += 1

    def nack(self, pqid: int) -> None:
        """Back in line untouched."""
        self._opened().nack(id=pqid)

    def ack_failed(self, pqid: int) -> None:
        self._opened().ack_failed(id=pqid)

    def clear_acked(self) -> None:
        """Delete acked rows, when any were acked since the last time."""
        if self._acked_since_clear:
            self._opened().clear_acked_data(max_delete=None, keep_latest=0)
            self._acked_since_clear = 0

    def resume_unacked(self) -> int:
        """Put jobs a dead drainer had claimed back in line; returns how many."""
        queue = self._opened()
        count = queue.unack_count()
        queue.resume_unack_tasks()
        return count

    def close(self) -> None:
        if self._queue is not None:
            self._queue.close()
            self._queue = None

    def _row(self, select: str, params: tuple) -> Optional[tuple]:
        """One row from the ready table; None before any drainer has created it."""
        try:
            return self.conn.execute(select.format(table=READY_TABLE), params).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise

    def has_waiting(self) -> bool:
        """Any job not claimed yet."""
        return self._row("SELECT 1 FROM {table} WHERE status < ? LIMIT 1", (UNACK,)) is not None

    def holds(self, scene_id: int) -> bool:
        """Is a job for this scene waiting or claimed? (Decoded here: no JSON1 needed in SQLite.)"""
        try:
            rows = self.conn.execute(f"SELECT data FROM {READY_TABLE} WHERE status <= ?", (UNACK,))
            for (data,) in rows:
                try:
                    if int(json.loads(bytes(data).decode("utf-8")).get("scene_id", -1)) == int(scene_id):
                        return True
                except (ValueError, TypeError, AttributeError):
                    continue
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
        return False

    def waiting_ids(self, limit: int) -> List[int]:
        """The scene ids of the next `limit` jobs not claimed yet, in the order `take` gives them."""
        try:
            rows = self.conn.execute(f"SELECT data FROM {READY_TABLE} WHERE status < ? ORDER BY _id LIMIT ?",
                                     (UNACK, max(0, int(limit)))).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        ids = []
        for (data,) in rows:
            try:
                ids.append(int(json.loads(bytes(data).decode("utf-8"))["scene_id"]))
            except (ValueError, TypeError, KeyError, AttributeError):
                continue
        return ids

    def count(self, claimed: bool) -> int:
        """Jobs claimed (in flight), or jobs waiting to be claimed."""
        where = "status = ?" if claimed else "status < ?"
        row = self._row(f"SELECT count(*) FROM {{table}} WHERE {where}", (UNACK,))
        return int(row[0]) if row else 0
