"""Which queue file a drainer holds open, to notice it being removed or replaced."""

from __future__ import annotations

import os
from typing import Optional

from sync_queue import inbox


class FileIdentity:
    """Notices the queue file being removed or replaced under a running drainer.

    The drainer's connections keep the old file open; new hooks write the new one. A
    drainer that kept going would leave every new job behind, so it stops and a fresh
    drainer takes over the file now at the path.
    """

    def __init__(self, data_dir: str):
        self.path = inbox.db_path(data_dir)
        self.first = self._now()

    def _now(self) -> Optional[tuple]:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino)

    def changed(self) -> Optional[str]:
        return "replaced" if self._now() != self.first else None
