"""Paths in logs, hidden on request so a user can share a log safely.

Code that logs a file path wraps it in show_path(); a regex over finished messages
cannot tell where a path with spaces ends. Standard library only.
"""

from __future__ import annotations

import hashlib
import os

_hide = False


def set_hide_paths(hide: bool) -> None:
    global _hide
    _hide = bool(hide)


def show_path(path: object) -> str:
    """The path itself, or `<path:hash.ext>` when the obfuscate_paths setting is on."""
    text = str(path)
    if not _hide:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:10]
    ext = os.path.splitext(text.replace("\\", "/"))[1][:8]
    return f"<path:{digest}{ext}>"
