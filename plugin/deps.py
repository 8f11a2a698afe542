"""Make sure the plugin's dependencies import, and say exactly how to fix it if not.

PythonDepManager (a Stash community plugin) installs pinned packages for plugins that
ask for it; without it, the packages must be in the Python that Stash runs.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import List, Optional, Tuple

# (import name, distribution, minimum version): the lower bounds of requirements.txt.
# PythonDepManager takes "import:dist>=min" specs; it is given minimums only.
REQUIREMENTS: List[Tuple[str, str, str]] = [
    ("persistqueue", "persist-queue", "1.0"),
    ("plexapi", "PlexAPI", "4.15.10"),
    ("tenacity", "tenacity", "8.0"),
    ("pydantic", "pydantic", "2.5"),
    ("stashapi", "stashapp-tools", "0.2.59"),
    ("filelock", "filelock", "3.12"),
    ("requests", "requests", "2.28"),
    ("PIL", "Pillow", "9.0"),
]


def _try_dep_manager() -> None:
    try:
        from PythonDepManager import ensure_import  # type: ignore
    except ImportError:
        return
    specs = [f"{module}:{dist}>={low}" if module != dist else f"{dist}>={low}" for module, dist, low in REQUIREMENTS]
    try:
        ensure_import(*specs)
    except Exception:  # noqa: BLE001 - PythonDepManager failures fall through to the check below
        return


def missing_dependencies_message(plugin_dir: str) -> Optional[str]:
    """None when everything imports; else one sentence naming the install command."""
    from sync_queue.persist_import import skip_async_queues

    _try_dep_manager()
    skip_async_queues()  # the check imports persistqueue: without asyncio, as the drainer does
    missing = []
    for module, dist, low in REQUIREMENTS:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(f"{dist}>={low}")
    if not missing:
        return None
    requirements_file = os.path.join(plugin_dir, "requirements.txt") if plugin_dir else "requirements.txt"
    return (
        f"missing Python packages ({', '.join(missing)}) for {sys.executable}. "
        f"Install the PythonDepManager plugin, or run: "
        f"\"{sys.executable}\" -m pip install -r \"{requirements_file}\""
    )
