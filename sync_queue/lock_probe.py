"""Is a drainer running? One look at the drain lock, standard library only (the hook asks).

The same kernel lock that filelock takes in worker/lock.py (flock on POSIX,
msvcrt.locking on Windows), so a drainer killed with kill -9 counts as gone the moment
it dies. The drainer's exit protocol (release the lock, THEN look at the queue once
more) closes the race between a hook that finds the lock held and a drainer that is
just going idle; a hook writes its drop before it looks here.
"""

from __future__ import annotations

import os

LOCK_FILE_NAME = "drainer.lock"


def drainer_running(data_dir: str) -> bool:
    """Does some process hold the drain lock? One non-blocking try, released at once.

    When the answer is unclear, False: starting a spare drainer is harmless (it finds
    the lock and exits).
    """
    path = os.path.join(data_dir, LOCK_FILE_NAME)
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False  # never taken yet, or unreadable
    try:
        if os.name == "nt":
            import msvcrt  # Windows only, imported only there

            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError:
                return True
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl  # POSIX only, imported only there

            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
