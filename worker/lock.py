"""The machine-wide drain lock: one drainer at a time, released by the OS when its holder dies.

filelock takes a kernel lock (flock on POSIX, msvcrt on Windows) on `<data_dir>/drainer.lock`,
so a drainer killed with kill -9 or by Stash's task "Stop" frees it at once: the next
drainer resumes the dead one's claimed jobs without waiting out a lease. persist-queue is
not safe for two consumers, so every consumer path (drainer, Process Queue) takes this lock.
"""

from __future__ import annotations

import os

from filelock import FileLock, Timeout

from sync_queue.lock_probe import LOCK_FILE_NAME


class DrainLockBusy(RuntimeError):
    """Another process is draining."""


class DrainLock:
    def __init__(self, data_dir: str):
        os.makedirs(data_dir, exist_ok=True)
        self.path = os.path.join(data_dir, LOCK_FILE_NAME)
        # thread_local=False: the drainer may take it on one thread and drop it on another.
        self._lock = FileLock(self.path, thread_local=False)

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._lock.is_locked

    def try_acquire(self) -> bool:
        """One attempt, no waiting."""
        return self.acquire(timeout=0)

    def acquire(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; False when another process kept it."""
        if self.held:
            return True
        try:
            self._lock.acquire(timeout=timeout)
        except Timeout:
            return False
        return True

    def release(self) -> None:
        if self.held:
            self._lock.release(force=True)

    def is_held_elsewhere(self) -> bool:
        """Is another process (or another lock object) draining right now?"""
        if self.held:
            return False
        probe = FileLock(self.path, thread_local=False)
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        probe.release()
        return False

    def __enter__(self) -> "DrainLock":
        """Take the lock without waiting; raises DrainLockBusy when another process drains."""
        if not self.try_acquire():
            raise DrainLockBusy(f"another process holds {self.path}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
