"""The background drainer's heartbeat: a figure for Queue Status, beaten from its own thread.

Liveness is the drain lock's; the beat only says when the drainer last showed a sign
of life, and a drain goes on without it when the queue file refuses it.
"""

from __future__ import annotations

import os
import threading
import time

from sync_queue import inbox

HEARTBEAT_SECONDS = 0.5


class Heartbeat(threading.Thread):
    """A figure for Queue Status (when the drainer last beat); liveness is the lock's."""

    def __init__(self, data_dir: str):
        super().__init__(name="drainer-heartbeat", daemon=True)
        self.data_dir = data_dir
        self.stop_event = threading.Event()

    def run(self) -> None:
        try:
            conn = inbox.connect(self.data_dir)
        except Exception:  # noqa: BLE001 - a figure only; the drain goes on without it
            return
        try:
            while not self.stop_event.is_set():
                try:
                    inbox.beat(conn, os.getpid(), time.time())
                except Exception:  # noqa: BLE001 - locked or full: the next beat tries again
                    pass
                self.stop_event.wait(HEARTBEAT_SECONDS)
            try:
                inbox.clear_beat(conn)
            except Exception:  # noqa: BLE001
                pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(5)
