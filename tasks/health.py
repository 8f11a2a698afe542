"""Health Check: can the plugin reach Stash and Plex, and do scene paths map into Plex?

Each check reports ok and a one-line detail; a failing check does not stop the others.
The matching check compares the path index with Plex (one count request per library)
and drops entries Plex no longer has, and names files held by more than one item of a
library, which strict matching will not sync.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Callable, Dict, List

from plex.items import fetch_full
from tasks.context import TaskContext
from validation.privacy import show_path

log = logging.getLogger("stash2plex")
SAMPLE_SCENES = 20
EXAMPLES = 3
CHECKS = 6


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
    mapper = app.settings.path_map
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
        if _check(checks, "path_map", lambda: _path_sample(ctx)):
            _check(checks, "matching", lambda: _matching(ctx))
    ok = all(c["ok"] for c in checks) and len(checks) == CHECKS
    failed = [c for c in checks if not c["ok"]]
    summary = "healthy" if ok else f"{failed[0]['name']}: {failed[0]['detail']}" if failed else "incomplete"
    for check in checks:
        log.log(logging.INFO if check["ok"] else logging.ERROR, "%s: %s", check["name"], check["detail"])
    return {"ok": ok, "checks": checks, "summary": summary}


def _matching(ctx: TaskContext) -> str:
    """Stale index entries (dropped now) and files claimed twice (what to do about them)."""
    app = ctx.app
    server, sections = app.plex(), app.sections()
    problems = []
    dropped: List[str] = []
    for section in sections:
        if app.index.stale(server, section):
            dropped += app.index.sweep(server, section)
    if dropped:
        app.sync_state.forget_keys(dropped)
        problems.append(
            f"{len(dropped)} index entr{'y' if len(dropped) == 1 else 'ies'} for items Plex no longer has "
            f"(deleted or re-added under a new key): dropped now; the next sync of their scenes finds "
            f"the current items")
    claims = app.index.claims(str(s.key) for s in sections)
    if claims:
        items = fetch_full(server, {int(k) for _, _, keys in claims for k in keys})
        real = [(f, [k for k in keys if int(k) in items]) for _, f, keys in claims]
        real = [(f, keys) for f, keys in real if len(keys) > 1]
        if real:
            shown = "; ".join(
                f"{show_path(f)}: " + ", ".join(f'item {k} "{items[int(k)].title}"' for k in keys)
                for f, keys in real[:EXAMPLES])
            problems.append(
                f"{len(real)} file(s) claimed by more than one item of a library ({shown}): strict "
                f"matching leaves their scenes in the dead letters; remove the duplicate item in Plex "
                f"(then run Retry Dead Letters), or turn on allow_ambiguous_match")
    if problems:
        raise RuntimeError("; ".join(problems))
    return f"the path index agrees with Plex ({app.index.stats().get('items', 0)} items)"


def _settings_detail(app) -> str:
    app.settings.require_plex()
    return "; ".join(app.settings_warnings) or "valid"


def _plex_detail(app) -> str:
    app.settings.require_plex()
    server = app.plex()
    return f"{server.friendlyName} (Plex {server.version}) accepts the token"
