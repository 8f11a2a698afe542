"""GraphQL resolvers for plugin packages, package sources and package jobs.

Shapes follow stashapp/stash internal/api/resolver_query_package.go and
resolver_mutation_package.go: packages are sorted by id; a remote package's
`requires` resolve only within its own source; `source_package` of an installed
package is what its source lists now (null when the source cannot be read); install,
update and uninstall answer a job id at once and do the work in the background.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

from graphql import GraphQLError

from testbed.stash.packages import PackageError


def _manager(info: Any):
    return info.context.app.packages


def _timestamp(value: Optional[datetime]) -> Optional[str]:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _plugin_type(type: str) -> None:
    if type != "Plugin":
        raise GraphQLError("the emulator has plugin packages only, not %s" % type)


def _remote_to_gql(pkg: Dict[str, Any], listed: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    return {"package_id": pkg["id"], "name": pkg.get("name") or "",
            "version": str(pkg["version"]) if pkg.get("version") else None,
            "date": _timestamp(pkg.get("date")), "sourceURL": pkg["source_url"],
            "metadata": pkg.get("metadata") or {}, "source_package": None,
            "requires": [_remote_to_gql(listed[r], listed) for r in pkg.get("requires") or []
                         if r in listed]}


def available_packages(_root: Any, info: Any, type: str, source: str) -> List[Dict[str, Any]]:
    _plugin_type(type)
    try:
        remote = _manager(info).remote(source)
    except PackageError as exc:
        raise GraphQLError(str(exc)) from exc
    listed = {p["id"]: p for p in remote}
    return [_remote_to_gql(p, listed) for p in remote]


def installed_packages(_root: Any, info: Any, type: str) -> List[Dict[str, Any]]:
    _plugin_type(type)
    return [{"package_id": m["id"], "name": m.get("name") or "",
             "version": str(m["version"]) if m.get("version") else None,
             "date": _timestamp(m.get("date")), "sourceURL": m.get("source_repository") or "",
             "metadata": m.get("metadata") or {}, "requires": [], "_local": True}
            for m in _manager(info).installed()]


def source_package(pkg: Dict[str, Any], info: Any) -> Optional[Dict[str, Any]]:
    """Fetched only when asked for, as Stash lists remotes only when the field is selected."""
    if not pkg.get("_local"):
        return pkg.get("source_package")
    try:
        remote = _manager(info).remote(pkg["sourceURL"])
    except PackageError:
        return None  # Stash logs a warning and leaves it out
    listed = {p["id"]: p for p in remote}
    found = listed.get(pkg["package_id"])
    return _remote_to_gql(found, listed) if found else None


def _job(action: str):
    def resolve(_root: Any, info: Any, type: str, packages: Any = None) -> str:
        _plugin_type(type)
        return _manager(info).start_job(action, packages)
    return resolve


def find_job(_root: Any, info: Any, input: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    job_id = str(input["id"])
    job = _manager(info).jobs.get(job_id)
    if job is not None:
        return dict(job)
    task = info.context.app.task_runs.get(job_id)
    if task is None:
        return None
    return {"id": job_id, "status": "FINISHED" if task.done.is_set() else "RUNNING",
            "description": "Running plugin task: %s" % (task.task_name or task.plugin_id),
            "error": None}


def configure_general(_root: Any, info: Any, input: Dict[str, Any]) -> Dict[str, Any]:
    """Only the package sources are emulated; a list replaces the saved one."""
    if input.get("pluginPackageSources") is not None:
        _manager(info).set_sources(input["pluginPackageSources"])
    return info.context.app.general_config()


def reload_plugins(_root: Any, info: Any) -> bool:
    info.context.app.reload_plugins()
    return True


RESOLVERS = {
    "Query": {"availablePackages": available_packages, "installedPackages": installed_packages,
              "findJob": find_job},
    "Mutation": {"installPackages": _job("install"), "updatePackages": _job("update"),
                 "uninstallPackages": _job("uninstall"), "configureGeneral": configure_general,
                 "reloadPlugins": reload_plugins},
    "Package": {"source_package": source_package},
    "ConfigGeneralResult": {"pluginPackageSources": lambda _r, info: _manager(info).sources},
}
