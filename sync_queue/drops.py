"""The hook's whole write: one empty file per edit, whose name is the job.

Standard library only, and no SQLite: importing `_sqlite3` alone costs a hook a third
of a bare Python start, and a hook must never wait on a queue file that another program
(a database browser, a backup, a drainer mid-commit) holds. Creating a file is atomic on
every platform and needs no data block, so the job is all in the name
(`<scene id>_<time ns>_<pid>_<hook type>.job`): there is no content that a crash could
tear, and two hooks never write the same file. The folder is fsynced after the create
(POSIX), so a job whose hook answered survives a power cut.

Whoever holds the queue file open merges the drops into the inbox and only then
deletes them (sync_queue/hook_merge.py).
"""

from __future__ import annotations

import os
import time

DROPS_DIR_NAME = "stash2plex.drops"
SUFFIX = ".job"
_ATTEMPTS = 5  # a name already taken (same scene, nanosecond and pid) moves the time on by 1 ns


def drops_dir(data_dir: str) -> str:
    return os.path.join(data_dir, DROPS_DIR_NAME)


def _safe_reason(reason: str) -> str:
    """Hook types are dotted words; anything else is named 'hook' rather than trusted in a file name."""
    return reason if reason and reason.replace(".", "").isalnum() and len(reason) <= 64 else "hook"


def _sync_dir(path: str) -> None:
    """Make a new directory entry durable (POSIX; NTFS journals it and cannot open a folder so)."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create(path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if os.name == "nt":
            os.fsync(fd)  # FlushFileBuffers: the new file's entry reaches the disk
    finally:
        os.close(fd)


def drop(data_dir: str, scene_id: int, reason: str, now_ns: "int | None" = None) -> None:
    """Durably note one edit; raises OSError when the folder refuses (full, read-only)."""
    directory = drops_dir(data_dir)
    at_ns = time.time_ns() if now_ns is None else int(now_ns)
    kind = _safe_reason(reason)
    for _ in range(_ATTEMPTS):
        path = os.path.join(directory, f"{int(scene_id)}_{at_ns}_{os.getpid()}_{kind}{SUFFIX}")
        try:
            _create(path)
        except FileExistsError:
            at_ns += 1
            continue
        except FileNotFoundError:  # the first hook ever, or the folder was removed
            os.makedirs(directory, exist_ok=True)
            _sync_dir(os.path.dirname(directory))
            _create(path)
        _sync_dir(directory)
        return
    raise FileExistsError(f"could not find a free name for scene {scene_id} in {directory}")


def parse(name: str) -> "tuple[int, float, str] | None":
    """(scene id, time in seconds, reason) from a drop's file name; None for any other file."""
    if not name.endswith(SUFFIX):
        return None
    parts = name[: -len(SUFFIX)].split("_", 3)
    if len(parts) != 4:
        return None
    try:
        return int(parts[0]), int(parts[1]) / 1e9, parts[3]
    except ValueError:
        return None


def pending(data_dir: str, limit: "int | None" = None) -> "list[tuple[str, tuple[int, float, str]]]":
    """The drops waiting now, as (path, (scene id, time, reason)), oldest first."""
    found = []
    try:
        with os.scandir(drops_dir(data_dir)) as entries:
            for entry in entries:
                job = parse(entry.name)
                if job is not None:
                    found.append((entry.path, job))
    except OSError:  # no folder yet: nothing dropped
        return []
    found.sort(key=lambda item: item[1][1])
    return found if limit is None else found[:limit]


def waiting(data_dir: str) -> bool:
    """Is any drop waiting? Stops at the first one (the drainer asks every 50 ms)."""
    try:
        with os.scandir(drops_dir(data_dir)) as entries:
            return any(parse(entry.name) is not None for entry in entries)
    except OSError:
        return False
