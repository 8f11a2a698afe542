"""Plugins registered with the emulator: hooks fired by mutations, tasks, operations.

Mirrors stashapp/stash pkg/plugin/plugins.go: after a scene mutation commits, every
enabled plugin's hooks for that trigger run one after another and the mutation waits
for each process to finish. Every run gets its own session cookie that remembers the
(plugin, hook) chain that led to it; a mutation made with that cookie skips a plugin
already triggered 10 times for that hook (maxCyclicLoopDepth).
"""
from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from testbed.runner import PluginRunner, RunHandle, RunResult

MAX_CYCLIC_DEPTH = 10
Visited = List[Tuple[str, str]]
# (plugin_dir, visited) -> server_connection dict carrying a fresh session cookie
ConnectionFactory = Callable[[str, Visited], Dict[str, Any]]


@dataclass
class HookRun:
    """One hook process Stash waited for."""

    plugin_id: str
    hook_name: str
    hook_type: str
    scene_id: int
    input: Any
    input_fields: Optional[List[str]]
    result: RunResult
    started: float  # time.monotonic()


@dataclass
class TaskRun:
    """A runPluginTask job (runs in the background, like Stash's job queue)."""

    job_id: str
    plugin_id: str
    task_name: Optional[str]
    args: Dict[str, Any]
    handle: Optional[RunHandle] = None
    result: Optional[RunResult] = None
    done: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float = 60.0) -> RunResult:
        if not self.done.wait(timeout):
            raise TimeoutError("task %s still running" % self.job_id)
        assert self.result is not None
        return self.result

    def stop(self) -> None:
        """Stash's Stop button: kill the process."""
        if self.handle is not None:
            self.handle.kill()


@dataclass
class _Plugin:
    runner: PluginRunner
    timeout: float
    enabled: bool = True


class PluginHost:
    def __init__(self, connection_for: ConnectionFactory) -> None:
        self._connection_for = connection_for
        self._plugins: Dict[str, _Plugin] = {}
        self._lock = threading.Lock()
        self._jobs = 0
        self.hook_runs: List[HookRun] = []
        self.task_runs: Dict[str, TaskRun] = {}
        self.operation_runs: List[RunResult] = []
        self._from_folder: List[str] = []

    def load_folder(self, folder: str, python: Optional[str] = sys.executable) -> List[str]:
        """Reload the plugins found under `folder` (each folder holding a .yml), as Stash's
        Reload Plugins does for its plugins path; plugins registered by hand stay."""
        for plugin_id in self._from_folder:
            self.unregister(plugin_id)
        self._from_folder = []
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            if any(name.endswith(".yml") for name in files):
                self._from_folder.append(self.register(root, python=python))
        return list(self._from_folder)

    def register(self, plugin_dir: str, python: Optional[str] = sys.executable,
                 env: Optional[Dict[str, str]] = None, timeout: float = 60.0) -> str:
        runner = PluginRunner(plugin_dir, {}, python=python, env=env)
        plugin_id = runner.manifest.plugin_id
        with self._lock:
            if plugin_id.lower() in (p.lower() for p in self._plugins):
                raise ValueError("plugin ID %s already exists" % plugin_id)
            self._plugins[plugin_id] = _Plugin(runner, timeout)
        return plugin_id

    def unregister(self, plugin_id: str) -> None:
        with self._lock:
            self._plugins.pop(plugin_id, None)

    def set_enabled(self, plugin_id: str, enabled: bool) -> None:
        self._plugins[plugin_id].enabled = enabled

    def runner(self, plugin_id: str) -> PluginRunner:
        return self._plugins[plugin_id].runner

    def plugin_list(self) -> List[Dict[str, Any]]:
        with self._lock:
            items = list(self._plugins.items())
        out = []
        for pid, plug in items:
            m = plug.runner.manifest
            out.append({
                "id": pid, "name": m.name or pid, "description": m.raw.get("description"),
                "version": m.raw.get("version"), "enabled": plug.enabled,
                "tasks": [{"name": t.name, "description": t.description} for t in m.tasks],
                "hooks": [{"name": h.name, "description": h.description,
                           "hooks": h.triggered_by} for h in m.hooks]})
        return out

    def ui_of(self, plugin_id: str) -> Optional[Tuple[str, Dict[str, Any], bool]]:
        """(plugin dir, the yml's `ui` block, enabled) for /plugin/{id}/…; None when unknown."""
        plug = self._plugins.get(plugin_id)
        if plug is None:
            return None
        return plug.runner.plugin_dir, dict(plug.runner.manifest.raw.get("ui") or {}), plug.enabled

    def ui_blocks(self) -> List[Tuple[str, Dict[str, Any]]]:
        """Every enabled plugin's `ui` block, in load order, for the page's script and style tags."""
        with self._lock:
            items = list(self._plugins.items())
        return [(pid, dict(p.runner.manifest.raw.get("ui") or {})) for pid, p in items
                if p.enabled and p.runner.manifest.raw.get("ui")]

    def _conn(self, plug: _Plugin, visited: Visited) -> Dict[str, Any]:
        return self._connection_for(plug.runner.plugin_dir, visited)

    def fire(self, hook_type: str, scene_id: int, input: Any,
             input_fields: Optional[List[str]], visited: Visited) -> List[HookRun]:
        """Run every matching hook now and wait for each, as Stash does."""
        with self._lock:
            plugins = [(pid, p) for pid, p in self._plugins.items() if p.enabled]
        runs = []
        for pid, plug in plugins:
            hooks = plug.runner.manifest.hooks_for(hook_type)
            if not hooks or visited.count((pid, hook_type)) >= MAX_CYCLIC_DEPTH:
                continue
            for hook in hooks:
                chain = list(visited) + [(pid, hook_type)]
                started = time.monotonic()
                handle = plug.runner.start_hook(
                    hook_type, scene_id, input, input_fields, hook_name=hook.name,
                    server_connection=self._conn(plug, chain), full=True)
                result = handle.wait(plug.timeout)
                run = HookRun(pid, hook.name, hook_type, scene_id, input, input_fields,
                              result, started)
                with self._lock:
                    self.hook_runs.append(run)
                runs.append(run)
        return runs

    def _enabled(self, plugin_id: str) -> _Plugin:
        plug = self._plugins.get(plugin_id)
        if plug is None:
            raise KeyError("no plugin with ID %s" % plugin_id)
        if not plug.enabled:
            raise ValueError("plugin %s is disabled" % plugin_id)
        return plug

    def run_operation(self, plugin_id: str, args: Dict[str, Any], visited: Visited) -> RunResult:
        """runPluginOperation: synchronous, no task, args as given.

        As pkg/plugin/plugins.go Cache.RunPlugin: the process runs with no operation (so no
        defaultArgs), the mutation waits for it, and its `error` becomes the mutation's
        error while its `output` is the mutation's value (mutations.py).
        """
        plug = self._enabled(plugin_id)
        handle = plug.runner.start_operation(args, server_connection=self._conn(plug, visited))
        result = handle.wait(plug.timeout)
        with self._lock:
            self.operation_runs.append(result)
        return result

    def run_task(self, plugin_id: str, task_name: Optional[str], args: Dict[str, Any],
                 visited: Visited) -> str:
        """runPluginTask: queue a background job and return its id."""
        plug = self._enabled(plugin_id)
        if task_name is not None:
            plug.runner.manifest.task(task_name)  # unknown task: error now, like Stash
        job_id = self.next_job_id()
        job = TaskRun(job_id, plugin_id, task_name, dict(args))
        conn = self._conn(plug, visited)
        if task_name is None:
            job.handle = plug.runner.start_operation(args, server_connection=conn)
        else:
            job.handle = plug.runner.start_task(task_name, args, server_connection=conn)
        self.task_runs[job_id] = job

        def finish() -> None:
            try:
                job.result = job.handle.wait(plug.timeout)  # type: ignore[union-attr]
            finally:
                job.done.set()

        threading.Thread(target=finish, daemon=True, name="stash-job-%s" % job_id).start()
        return job_id

    def next_job_id(self) -> str:
        with self._lock:
            self._jobs += 1
            return str(self._jobs)
