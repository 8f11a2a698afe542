"""The browser side of the Stash emulator: plugin UI files served as Stash serves them,
and a host page offering the part of `window.PluginApi` the plugins use.

Routes, as stashapp/stash internal/api/routes_plugin.go serves them for an enabled plugin:
- `/plugin/{id}/javascript`: every local file of the yml's `ui.javascript`, concatenated
  in order (serveFiles), `Content-Type: text/javascript`; URLs in the list are not
  served but loaded by the page as external scripts (pkg/plugin/config.go isURL).
- `/plugin/{id}/css`: the same for `ui.css`, `text/css`.
- `/plugin/{id}/assets/…`: `ui.assets` maps URL prefixes to folders of the plugin
  (utils.URLMap, longest prefix first); paths leaving the plugin folder are 404.
- a disabled plugin answers 400 "plugin disabled"; an unknown id 404.
Every other GET that is not GraphQL or an image is the single-page app: the host page.

The host page is honest about what it is: React and ReactDOM from the pinned npm
packages (scripts/setup puts their UMD builds in .cache/ui-host), and a PluginApi with
only members real Stash has, under the same names and call shapes (ui/v2.5/src/
pluginApi.tsx; docs "UI Plugin API"): React, ReactDOM, register.route(path, component),
patch.before/instead/after(name, fn), components, utils, Event with "stash:location".
It renders two of Stash's patchable components, "ScenePage.TabContent" on /scenes/{id}
and "MainNavBar.UtilityItems" in the navbar, and "PluginRoutes" for registered routes.
"""
from __future__ import annotations

import mimetypes
import os
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE_DIR = os.path.join(ROOT, ".cache", "ui-host")
REACT_FILES = {"/testbed-ui/react.js": "react.production.min.js",
               "/testbed-ui/react-dom.js": "react-dom.production.min.js"}
HOST_PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "host_page.html")
_PLUGIN_ROUTE = re.compile(r"^/plugin/([^/]+)/(javascript|css|assets)(/.*)?$")

Answer = Tuple[int, bytes, str]


def react_available() -> bool:
    return all(os.path.isfile(os.path.join(CACHE_DIR, name)) for name in REACT_FILES.values())


def _is_url(value: str) -> bool:
    return value.startswith("http://") or value.startswith("https://")


def _concat(plugin_dir: str, files: List[str]) -> bytes:
    """serveFiles: each local file in turn (a missing one is skipped, as Stash logs and goes on)."""
    out = b""
    for name in files:
        if _is_url(name):
            continue
        try:
            with open(os.path.join(plugin_dir, name), "rb") as fh:
                out += fh.read() + b"\n"
        except OSError:
            continue
    return out


def _asset(plugin_dir: str, assets: Dict[str, str], rest: str) -> Answer:
    """URLMap.GetFilesystemLocation: the longest matching prefix wins."""
    rest = rest or "/"
    for prefix in sorted(assets, key=len, reverse=True):
        if rest == prefix or rest.startswith(prefix.rstrip("/") + "/") or prefix == "/":
            folder = os.path.realpath(os.path.join(plugin_dir, assets[prefix]))
            path = os.path.realpath(os.path.join(folder, rest[len(prefix.rstrip("/")):].lstrip("/")))
            base = os.path.realpath(plugin_dir)
            if not (path == base or path.startswith(base + os.sep)) or not os.path.isfile(path):
                return 404, b"404 page not found\n", "text/plain; charset=utf-8"
            with open(path, "rb") as fh:
                return 200, fh.read(), mimetypes.guess_type(path)[0] or "application/octet-stream"
    return 404, b"404 page not found\n", "text/plain; charset=utf-8"


def plugin_file(lookup: Callable[[str], Optional[Tuple[str, Dict[str, Any], bool]]], path: str) -> Optional[Answer]:
    """/plugin/{id}/… answered from the plugin's yml `ui` block; None for other paths.

    `lookup(id)` gives (plugin_dir, ui block, enabled) or None for an unknown plugin.
    """
    match = _PLUGIN_ROUTE.match(path)
    if match is None:
        return None
    found = lookup(match.group(1))
    if found is None:
        return 404, b"Not Found\n", "text/plain; charset=utf-8"
    plugin_dir, ui, enabled = found
    if not enabled:
        return 400, b"plugin disabled\n", "text/plain; charset=utf-8"
    kind = match.group(2)
    if kind == "javascript":
        return 200, _concat(plugin_dir, list(ui.get("javascript") or [])), "text/javascript"
    if kind == "css":
        return 200, _concat(plugin_dir, list(ui.get("css") or [])), "text/css"
    return _asset(plugin_dir, dict(ui.get("assets") or {}), match.group(3) or "")


def react_file(path: str) -> Optional[Answer]:
    name = REACT_FILES.get(path)
    if name is None:
        return None
    try:
        with open(os.path.join(CACHE_DIR, name), "rb") as fh:
            return 200, fh.read(), "text/javascript"
    except OSError:
        return 404, b"React is not in .cache/ui-host: run scripts/setup\n", "text/plain"


def host_page(plugins: List[Tuple[str, Dict[str, Any]]]) -> Answer:
    """The single-page app, loading each enabled plugin's css and javascript as Stash's UI does."""
    tags = []
    for plugin_id, ui in plugins:
        for url in ui.get("css") or []:
            if _is_url(url):
                tags.append('<link rel="stylesheet" href="%s">' % url)
        if any(not _is_url(c) for c in ui.get("css") or []):
            tags.append('<link rel="stylesheet" href="/plugin/%s/css">' % plugin_id)
    scripts = []
    for plugin_id, ui in plugins:
        scripts.extend('<script src="%s"></script>' % u for u in ui.get("javascript") or [] if _is_url(u))
        if any(not _is_url(j) for j in ui.get("javascript") or []):
            scripts.append('<script src="/plugin/%s/javascript"></script>' % plugin_id)
    with open(HOST_PAGE, encoding="utf-8") as fh:
        page = fh.read()
    page = page.replace("<!--PLUGIN_CSS-->", "\n".join(tags)).replace("<!--PLUGIN_JS-->", "\n".join(scripts))
    return 200, page.encode("utf-8"), "text/html; charset=utf-8"
