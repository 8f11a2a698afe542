"""Logging for tasks (Stash's stderr format) and for the drainer (a rotating file).

Every record passes the same filter: secrets redacted, one line, capped. Paths are
hidden at the source (validation/privacy.py show_path) when the user asks. Stash shows stderr lines; the detached drainer has no stderr that
anyone reads, so it writes `<data dir>/logs/drainer.log` (1 MB, 3 backups).
"""

from __future__ import annotations

import logging
import logging.handlers
import os

from plugin import stashlog
from validation import privacy

LOGGER_NAME = "stash2plex"
DRAINER_LOG = os.path.join("logs", "drainer.log")
_STASH_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}
class CleanFilter(logging.Filter):
    """Redact secrets and flatten to one capped line before any handler sees the text."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and record.levelno >= logging.ERROR:
            text = f"{text} ({record.exc_info[1]!r})"
        record.msg = stashlog.clean(text)
        record.args = None
        record.exc_info = None  # a traceback on stderr looks like a crash in Stash's log
        record.exc_text = None
        return True


class StashHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        stashlog.emit(_STASH_LEVELS.get(record.levelno, "info"), self.format(record))


def _configure(handler: logging.Handler, debug: bool, hide_paths: bool) -> logging.Logger:
    handler.addFilter(CleanFilter())
    privacy.set_hide_paths(hide_paths)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # Client libraries talk too much at INFO and may echo URLs; our filter still redacts them.
    for noisy in ("plexapi", "urllib3", "requests", "stashapi", "filelock", "persistqueue"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(LOGGER_NAME)


def setup_stash_logging(debug: bool = False, hide_paths: bool = False) -> logging.Logger:
    handler = StashHandler()
    handler.setFormatter(logging.Formatter("Stash2Plex: %(message)s"))
    return _configure(handler, debug, hide_paths)


def setup_file_logging(data_dir: str, debug: bool = False, hide_paths: bool = False) -> logging.Logger:
    path = os.path.join(data_dir, DRAINER_LOG)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    return _configure(handler, debug, hide_paths)


def reconfigure(debug: bool, hide_paths: bool) -> None:
    """Apply settings that are only known after they were read from Stash."""
    logging.getLogger().setLevel(logging.DEBUG if debug else logging.INFO)
    privacy.set_hide_paths(hide_paths)
