"""Plain words for what the disk or SQLite refused, so no task or hook answers with a bare
"OperationalError".

Standard library only, and SQLite only when the caller already loaded it: the hook path
(which never does) uses it too.
"""

from __future__ import annotations

import errno
import os
import sys

_FULL = ("database or disk is full", "no space left")
_READ_ONLY = ("readonly database", "read-only file system", "unable to open database file",
              "permission denied", "access is denied")
_LOCKED = ("database is locked", "database table is locked")


LOW_SPACE_BYTES = 1024 * 1024


def _nearly_full(data_dir: "str | None") -> bool:
    """SQLite reports a write that found no space as a plain 'disk I/O error'."""
    if not data_dir:
        return False
    import shutil  # deliberately lazy: only a failing write needs it

    try:
        return shutil.disk_usage(data_dir).free < LOW_SPACE_BYTES
    except OSError:
        return False


def _storage_errors() -> tuple:
    """OSError, and SQLite's errors once SQLite is loaded (before that, none of them can exist)."""
    sqlite = sys.modules.get("_sqlite3")  # what `import sqlite3` loads underneath
    return (OSError,) if sqlite is None else (OSError, sqlite.Error)


def kind_of(exc: BaseException, data_dir: "str | None" = None) -> "str | None":
    """locked, full, read_only, io or damaged for storage trouble; None for anything else.

    Our own wrappers (e.g. db.QueueFileLocked) are judged by the error they were raised from.
    """
    errors, depth = _storage_errors(), 0
    while not isinstance(exc, errors) and exc.__cause__ is not None and depth < 5:
        exc, depth = exc.__cause__, depth + 1
    if not isinstance(exc, errors):
        return None
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if any(m in text for m in _LOCKED):
        return "locked"
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)) or any(m in text for m in _FULL):
        return "full"
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or any(m in text for m in _READ_ONLY):
        return "read_only"
    if not isinstance(exc, OSError):
        from sync_queue.inbox import is_corruption  # SQLite is loaded already: exc is its error

        if is_corruption(exc):
            return "damaged"
    if "disk i/o error" in text or code == errno.EIO:
        return "full" if _nearly_full(data_dir) else "io"
    return None


def read_only_words(data_dir: str) -> str:
    return (f"the data folder {data_dir} cannot be written (read-only or no permission); "
            f"fix its permissions or set STASH2PLEX_DATA_DIR to a writable folder")


def unwritable(data_dir: str) -> "str | None":
    """Plain words when the data folder cannot be written now, else None.

    Opening the queue file may write nothing (schema current, and a WAL left by a killed
    drainer lets SQLite read a read-only file), so a read-only folder can look healthy
    until the next write: ask the file system.
    """
    return None if os.access(data_dir, os.W_OK) else read_only_words(data_dir)


def plain_words(exc: BaseException, data_dir: str) -> "str | None":
    """What happened and what to do, naming the folder; None when it is not storage trouble."""
    from sync_queue.inbox import DB_FILE_NAME  # only once something failed

    kind = kind_of(exc, data_dir)
    where = os.path.join(data_dir, DB_FILE_NAME)
    if kind == "locked":
        return (f"the queue file {where} is locked by another program (a database browser or a "
                f"backup tool?); close it")
    if kind == "full":
        return f"the disk holding {data_dir} is full; free some space there"
    if kind == "read_only":
        return read_only_words(data_dir)
    if kind == "damaged":
        return f"the queue file {where} is damaged; the next drainer moves it aside and starts a new one"
    if kind == "io":
        return f"the disk holding {data_dir} reported an I/O error ({exc}); check the disk"
    return None
