"""Health Check: can the plugin reach Stash and Plex, and do scene paths map into Plex?

Each check reports ok and a one-line detail; a failing check does not stop the others.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Callable, Dict, List

from plex.pathmap import PathMapper
from tasks.context import TaskContext
from validation.privacy import show_path

log = logging.getLogger("stash2plex")
SAMPLE_SCENES = 20


def _check(checks: List[Dict[str, Any]], name: str, probe: Callable[[], str]) -> bool:
    try:
        detail = probe()
        checks.append({"name": name, "ok": True, "detail": detail})
        return True
    except Exception as exc:  # noqa: BLE001 - every failure becomes a reported check
        checks.append({"name": name, "ok": False, "detail": str(exc) or type(exc).__name__})
        return False


def _path_sample(ctx: TaskContext) -> str:
    app = ctx.app
    index = app.index
    if not index.stats().get("size"):
        index.build(app.plex(), app.sections())
    else:
        index.refresh(app.plex(), app.sections())
    mapper = PathMapper(app.settings.path_map)
    ids = list(itertools.islice(app.stash.iter_scene_ids(), SAMPLE_SCENES))
    scenes = app.stash.find_scenes(ids) if ids else {}
    matched, missing = 0, []
    for scene in scenes.values():
        paths = [f.get("path") for f in scene.get("files") or [] if f.get("path")]
        if any(index.lookup(mapper.to_plex(p)) for p in paths):
            matched += 1
        elif paths:
            missing.append(show_path(mapper.to_plex(paths[0])))
    if scenes and not matched:
        raise RuntimeError(
            f"none of {len(scenes)} sampled scenes was found in Plex, e.g. {missing[0]}: check path_map"
        )
    detail = f"{matched} of {len(scenes)} sampled scenes found in Plex"
    if missing:
        detail += f"; not found, e.g. {', '.join(missing[:3])}"
    return detail


def run(ctx: TaskContext) -> Dict[str, Any]:
    app = ctx.app
    checks: List[Dict[str, Any]] = []
    stash_ok = _check(checks, "stash", lambda: f"Stash {app.stash.version()} answers")
    settings_ok = stash_ok and _check(checks, "settings", lambda: _settings_detail(app))
    plex_ok = settings_ok and _check(checks, "plex", lambda: _plex_detail(app))
    libraries_ok = plex_ok and _check(
        checks, "libraries", lambda: ", ".join(s.title for s in app.sections()) or "none"
    )
    if libraries_ok:
        _check(checks, "path_map", lambda: _path_sample(ctx))
    ok = all(c["ok"] for c in checks) and len(checks) == 5
    failed = [c for c in checks if not c["ok"]]
    summary = "healthy" if ok else f"{failed[0]['name']}: {failed[0]['detail']}" if failed else "incomplete"
    for check in checks:
        log.log(logging.INFO if check["ok"] else logging.ERROR, "%s: %s", check["name"], check["detail"])
    return {"ok": ok, "checks": checks, "summary": summary}


def _settings_detail(app) -> str:
    app.settings.require_plex()
    return "; ".join(app.settings_warnings) or "valid"


def _plex_detail(app) -> str:
    app.settings.require_plex()
    server = app.plex()
    return f"{server.friendlyName} (Plex {server.version}) accepts the token"
