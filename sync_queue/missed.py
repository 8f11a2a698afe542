"""The last resort for an edit no file could hold: the time of the first one, for a catch-up.

Standard library only: the hook path imports it.

When even a drop cannot be created (the disk is full, to its last inode), the hook marks
the time of the first missed edit in a small file created ahead of time: overwriting
bytes it already owns needs no free space. The drainer then queues every scene Stash
changed since that time (worker/catch_up.py), and Queue Status says so.
"""

from __future__ import annotations

import os

MISSED_FILE_NAME = "stash2plex.missed"
MISSED_SIZE = 64  # bytes reserved for the marker; all spaces = nothing missed


def missed_path(data_dir: str) -> str:
    return os.path.join(data_dir, MISSED_FILE_NAME)


def reserve_missed_marker(data_dir: str) -> None:
    """Create the marker file while there is space, so a full disk can still be noted."""
    path = missed_path(data_dir)
    if os.path.exists(path):
        return
    try:
        with open(path, "wb") as fh:
            fh.write(b" " * MISSED_SIZE)
    except OSError:
        pass  # a read-only folder: nothing could be noted there anyway


def note_missed(data_dir: str, now: float) -> bool:
    """Remember the first edit that could not be kept anywhere; True when it was noted."""
    path = missed_path(data_dir)
    try:
        with open(path, "r+b") as fh:
            if fh.read(MISSED_SIZE).strip():
                return True  # an earlier miss is already noted; the earliest time counts
            fh.seek(0)
            fh.write(("%.3f" % now).ljust(MISSED_SIZE).encode("ascii"))
            fh.flush()
            os.fsync(fh.fileno())
        return True
    except OSError:
        return False


def first_missed(data_dir: str) -> "float | None":
    """When the first edit that no file could hold was made, or None."""
    try:
        with open(missed_path(data_dir), "rb") as fh:
            text = fh.read(MISSED_SIZE).strip()
    except OSError:
        return None
    try:
        return float(text) if text else None
    except ValueError:
        return None


def clear_missed(data_dir: str) -> None:
    """Blank the marker before catching up, so a miss during the catch-up is noted again."""
    with open(missed_path(data_dir), "r+b") as fh:
        fh.write(b" " * MISSED_SIZE)
        fh.flush()
        os.fsync(fh.fileno())
