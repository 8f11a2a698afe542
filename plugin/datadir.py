"""Where the plugin keeps its queue, state and logs.

Stash replaces the plugin's own folder on every update or reinstall, so the data
lives beside Stash's configuration instead: `<Stash config dir>/plugin_data/Stash2Plex`
(server_connection.Dir is that config dir; /root/.stash in the official Docker image).
Standard library only: the hook path resolves it.
"""

from __future__ import annotations

import os

DATA_DIR_ENV = "STASH2PLEX_DATA_DIR"  # an explicit override for unusual installs


def resolve_data_dir(server_connection: dict) -> str:
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return os.path.abspath(override)
    stash_dir = server_connection.get("Dir") or ""
    if stash_dir:
        return os.path.join(os.path.abspath(stash_dir), "plugin_data", "Stash2Plex")
    plugin_dir = server_connection.get("PluginDir") or os.path.dirname(os.path.abspath(__file__))
    # Without Stash's config dir, stay outside the plugin folder so an update keeps the data.
    return os.path.join(os.path.dirname(os.path.abspath(plugin_dir)), "Stash2Plex-data")
