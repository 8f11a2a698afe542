"""StashEmulator: an in-process Stash server for tests, benchmarks and the demo.

    emu = StashEmulator(port=0, auth=False)
    with emu:                                   # or emu.start() / emu.stop()
        emu.seed(500)
        conn = emu.server_connection(plugin_dir, data_dir)   # what Stash puts on stdin
        emu.register_plugin(plugin_dir)         # hooks now fire on sceneUpdate

Real stashapi clients talk to emu.url over HTTP; tests read and change the data
through the Python API below, which behaves like edits made in Stash's UI.
"""
from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import threading
import weakref
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, List, Optional

from testbed.faults import Faults
from testbed.loopback import LOOPBACK, LoopbackServer
from testbed.runner import RunResult, full_input
from testbed.stash import seed as seeding
from testbed.stash.packages import PackageManager
from testbed.stash.plugins import HookRun, PluginHost, TaskRun, Visited
from testbed.stash.routes import Gateway
from testbed.stash.store import Store, rfc3339, utc_now

VERSION = {"version": "v0.27.2", "hash": "a1b2c3d4e", "build_time": "2024-11-24 21:05:31"}
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def _fake_jwt() -> str:
    """Stash API keys are JWTs; only their shape matters to clients."""
    return "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.%s.%s" % (
        secrets.token_urlsafe(48), secrets.token_urlsafe(32))


def _update_input(scene_id: int, fields: Dict[str, Any]) -> Dict[str, Any]:
    """Python-API fields as the SceneUpdateInput a GraphQL client would have sent."""
    given: Dict[str, Any] = {"id": str(scene_id)}
    for key, value in fields.items():
        if key == "studio_id":
            value = None if value is None else str(value)
        elif key in ("performer_ids", "tag_ids"):
            value = [str(v) for v in value or []]
        elif key == "groups":
            value = [{"group_id": str(g), "scene_index": idx} for g, idx in value or []]
        elif key == "stash_ids":
            value = [{"endpoint": s["endpoint"], "stash_id": s["stash_id"],
                      "updated_at": rfc3339(s.get("updated_at"))} for s in value or []]
        given[key] = value
    return given


class StashEmulator:
    def __init__(self, port: int = 0, auth: bool = False,
                 clock: Optional[Callable[[], datetime]] = None,
                 config_dir: Optional[str] = None,
                 on_settings_changed: Optional[Callable[[Dict[str, Any]], None]] = None,
                 plugin_host: str = LOOPBACK) -> None:
        self.store = Store(clock or utc_now)
        # Host written into server_connection for plugins the emulator starts; real
        # Stash sends its bind address, often "0.0.0.0".
        self.plugin_host = plugin_host
        self.faults = Faults()
        self.auth = auth
        self.api_key = _fake_jwt() if auth else ""
        self.username = "stash" if auth else ""
        self._sessions: Dict[str, Visited] = {}
        self._sessions_lock = threading.Lock()
        self.session_cookie = self._new_session([])
        self._requests: List[Dict[str, Any]] = []
        self._requests_lock = threading.Lock()
        self._on_settings_changed = on_settings_changed
        self._config_dir = config_dir
        self.plugins = PluginHost(self._plugin_connection)
        self._packages: Optional[PackageManager] = None
        self._gateway = Gateway(self)
        self._http = LoopbackServer(self._gateway.dispatch, port, name="stash-emulator",
                                    software="StashEmulator/1")

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> "StashEmulator":
        self.faults.rearm()
        self._http.start()
        return self

    def stop(self) -> None:
        # Hung and delayed handlers are let go first, as a dead server holds nothing.
        self.faults.release()
        self._http.stop()

    def go_down(self) -> None:
        """Refuse connections on the port and drop open ones (Stash stopped or restarting)."""
        self.stop()

    def come_up(self) -> None:
        """Listen again on the same port."""
        self.start()

    @property
    def is_up(self) -> bool:
        return self._http.is_up

    @property
    def open_connections(self) -> int:
        """Client connections currently open (idle keep-alive ones included)."""
        return self._http.open_connections

    def __enter__(self) -> "StashEmulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return "http://%s:%d" % (LOOPBACK, self.port)

    @property
    def graphql_url(self) -> str:
        return self.url + "/graphql"

    @property
    def config_dir(self) -> str:
        """Stash's config directory (server_connection "Dir"); a temp dir by default."""
        if self._config_dir is None:
            path = tempfile.mkdtemp(prefix="stash-config-")
            weakref.finalize(self, shutil.rmtree, path, True)
            self._config_dir = path
        return self._config_dir

    # -- sessions and auth ---------------------------------------------------------

    def _new_session(self, visited: Visited) -> str:
        value = secrets.token_urlsafe(48)
        with self._sessions_lock:
            self._sessions[value] = list(visited)
        return value

    def session_visited(self, cookie: Optional[str]) -> Optional[Visited]:
        """The hook chain a session cookie carries, or None for an unknown cookie."""
        if cookie is None:
            return None
        with self._sessions_lock:
            visited = self._sessions.get(cookie)
        return None if visited is None else list(visited)

    def expire_sessions(self) -> str:
        """Invalidate every session cookie (they expire after an hour in Stash)."""
        with self._sessions_lock:
            self._sessions.clear()
        self.session_cookie = self._new_session([])
        return self.session_cookie

    def generate_api_key(self, clear: bool = False) -> str:
        if not self.username:
            raise ValueError("cannot generate API key if credentials have not been configured")
        self.api_key = "" if clear else _fake_jwt()
        return self.api_key

    def cookie_dict(self, value: Optional[str] = None) -> Dict[str, Any]:
        """A Go http.Cookie as encoding/json writes it (Go 1.22 field set)."""
        return {"Name": "session", "Value": value or self.session_cookie, "Path": "",
                "Domain": "", "Expires": GO_ZERO_TIME, "RawExpires": "", "MaxAge": 0,
                "Secure": False, "HttpOnly": False, "SameSite": 0, "Raw": "",
                "Unparsed": None}

    def server_connection(self, plugin_dir: str, data_dir: Optional[str] = None,
                          host: str = LOOPBACK, cookie: Optional[str] = None) -> Dict[str, Any]:
        """The "server_connection" object Stash writes to a plugin's stdin.

        Real Stash sends its configured host, often "0.0.0.0"; pass host= to test that.
        """
        return {"Scheme": "http", "Host": host, "Port": self.port,
                "SessionCookie": self.cookie_dict(cookie),
                "Dir": data_dir if data_dir is not None else self.config_dir,
                "PluginDir": plugin_dir}

    def _plugin_connection(self, plugin_dir: str, visited: Visited) -> Dict[str, Any]:
        return self.server_connection(plugin_dir, cookie=self._new_session(visited),
                                      host=self.plugin_host)

    # -- configuration seen through GraphQL ----------------------------------------

    def general_config(self) -> Dict[str, Any]:
        return {"stashes": [{"path": "/data", "excludeVideo": False, "excludeImage": False}],
                "databasePath": "/config/stash-go.sqlite", "generatedPath": "/generated",
                "metadataPath": "/metadata", "configFilePath": "/config/config.yml",
                "scrapersPath": "/config/scrapers", "pluginsPath": "/config/plugins",
                "cachePath": "/cache", "calculateMD5": False, "parallelTasks": 1,
                "apiKey": self.api_key, "username": self.username,
                "password": "$2a$10$emulatorhashemulatorhashemulatorhashemu" if self.auth else "",
                "maxSessionAge": 3600, "logFile": None, "logOut": True, "logLevel": "Info",
                "logAccess": False, "videoExtensions": ["mp4", "mkv", "avi", "wmv", "mov"],
                "excludes": [], "pythonPath": sys.executable}

    def version_info(self) -> Dict[str, Any]:
        return dict(VERSION)

    def system_status(self) -> Dict[str, Any]:
        return {"databaseSchema": 70, "databasePath": "/config/stash-go.sqlite",
                "configPath": "/config/config.yml", "appSchema": 70, "status": "OK",
                "os": sys.platform, "workingDir": "/", "homeDir": "/root",
                "ffmpegPath": "/usr/bin/ffmpeg", "ffprobePath": "/usr/bin/ffprobe"}

    def settings_changed(self) -> None:
        if self._on_settings_changed is not None:
            self._on_settings_changed(self.store.plugins_config())

    # -- request log ---------------------------------------------------------------

    def log_request(self, entry: Dict[str, Any]) -> None:
        with self._requests_lock:
            self._requests.append(entry)

    @property
    def requests(self) -> List[Dict[str, Any]]:
        """Every request seen: method, path, status, operation, fields, kind, auth, time (when it arrived)…"""
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    def count(self, field: Optional[str] = None, path: Optional[str] = None) -> int:
        """Requests whose GraphQL top-level fields include `field` (or with `path`)."""
        return sum(1 for r in self.requests
                   if (field is None or field in r["fields"]) and (path is None or r["path"] == path))

    # -- plugins -------------------------------------------------------------------

    def register_plugin(self, plugin_dir: str, python: Optional[str] = sys.executable,
                        env: Optional[Dict[str, str]] = None, timeout: float = 60.0) -> str:
        """Load a plugin's yml; its hooks then fire on mutations. Returns the plugin id."""
        return self.plugins.register(plugin_dir, python=python, env=env, timeout=timeout)

    @property
    def hook_runs(self) -> List[HookRun]:
        return list(self.plugins.hook_runs)

    @property
    def task_runs(self) -> Dict[str, TaskRun]:
        return dict(self.plugins.task_runs)

    @property
    def operation_runs(self) -> List[RunResult]:
        """Every runPluginOperation process, in order (their outputs are what a UI saw)."""
        return list(self.plugins.operation_runs)

    @property
    def packages(self) -> PackageManager:
        """The plugin package manager; it installs into <config dir>/plugins."""
        if self._packages is None:
            self._packages = PackageManager(os.path.join(self.config_dir, "plugins"),
                                            self.reload_plugins, self.next_job_id)
        return self._packages

    def reload_plugins(self) -> List[str]:
        """Settings > Plugins > Reload: load what the package manager's folder holds now."""
        return self.plugins.load_folder(self.packages.plugins_dir)

    def fire_hook(self, hook_type: str, scene_id: int, input: Any = None,
                  input_fields: Optional[List[str]] = None) -> List[HookRun]:
        """Fire hooks directly, as a scan or identify does (input None: scan)."""
        return self.plugins.fire(hook_type, scene_id, input, input_fields, [])

    def plugin_list(self) -> List[Dict[str, Any]]:
        return self.plugins.plugin_list()

    def run_plugin_operation(self, plugin_id: str, args: Dict[str, Any],
                             visited: Visited) -> RunResult:
        return self.plugins.run_operation(plugin_id, args, visited)

    def run_plugin_task(self, plugin_id: str, task_name: Optional[str], args: Dict[str, Any],
                        visited: Visited) -> str:
        return self.plugins.run_task(plugin_id, task_name, args, visited)

    def next_job_id(self) -> str:
        return self.plugins.next_job_id()

    # -- data, as the Stash UI would change it -------------------------------------

    def seed(self, n: int, rng_seed: int = 0, path_prefix: str = "/data/stash",
             second_file_every: int = 0) -> List[int]:
        """n scenes; with second_file_every=k, every k-th scene also has a second copy."""
        return seeding.seed(self.store, n, rng_seed=rng_seed, path_prefix=path_prefix,
                            second_file_every=second_file_every)

    def add_studio(self, name: str, parent_id: Optional[int] = None, image: bool = True,
                   **extra: Any) -> int:
        return self.store.add_studio(name, parent_id=parent_id, image=image, **extra)

    def add_performer(self, name: str, image: bool = True, **extra: Any) -> int:
        return self.store.add_performer(name, image=image, **extra)

    def add_tag(self, name: str, parent_ids: Iterable[int] = (), **extra: Any) -> int:
        return self.store.add_tag(name, parent_ids=parent_ids, **extra)

    def add_group(self, name: str, studio_id: Optional[int] = None, image: bool = True,
                  **extra: Any) -> int:
        return self.store.add_group(name, studio_id=studio_id, image=image, **extra)

    def add_scene(self, title: str = "", files: Iterable[str] = (), scan_hooks: bool = False,
                  **fields: Any) -> int:
        """Add a scene; scan_hooks=True fires Scene.Create.Post with input null, as a scan."""
        scene_id = self.store.add_scene(files=files, title=title, **fields)
        if scan_hooks:
            self.fire_hook("Scene.Create.Post", scene_id)
        return scene_id

    def update_scene(self, scene_id: int, hooks: bool = True, **fields: Any) -> Dict[str, Any]:
        """Change fields and bump updated_at, like a save in Stash's UI.

        With hooks (the default) registered plugins get Scene.Update.Post with these
        fields as the input, and this call waits for them, as the UI's save does.
        """
        scene = self.store.update_scene(scene_id, **fields)
        if hooks:
            given = _update_input(scene_id, fields)
            self.fire_hook("Scene.Update.Post", scene_id, full_input(given), list(given))
        return scene

    def add_scene_file(self, scene_id: int, path: str, primary: bool = False,
                       scan_hooks: bool = False) -> Dict[str, Any]:
        """A scan found another copy of the scene (a 480p beside the 1080p): one more file.

        scan_hooks=True fires Scene.Update.Post with input null, as a scan does.
        """
        scene = self.store.add_scene_file(scene_id, path, primary=primary)
        if scan_hooks:
            self.fire_hook("Scene.Update.Post", scene_id)
        return scene

    def delete_scene(self, scene_id: int) -> bool:
        return self.store.delete_scene(scene_id)

    def scene(self, scene_id: int) -> Optional[Dict[str, Any]]:
        return self.store.scene(scene_id)

    def set_screenshot(self, scene_id: int, data: Optional[bytes] = None,
                       bump: bool = True) -> None:
        """New screenshot bytes (None: regenerate); bumps updated_at unless bump=False."""
        self.store.set_image("scene", scene_id, data, bump=bump)

    def set_image(self, kind: str, obj_id: int, data: Optional[bytes] = None,
                  bump: bool = True, back: bool = False) -> None:
        """Image of a performer, studio, tag or group ("group" + back for the back cover)."""
        self.store.set_image(kind, obj_id, data, bump=bump, back=back)

    def image_bytes(self, kind: str, obj_id: int, back: bool = False) -> Optional[bytes]:
        return self.store.image(kind, obj_id, back=back)

    def plugin_settings(self, plugin_id: str) -> Optional[Dict[str, Any]]:
        """What configuration.plugins holds for plugin_id (None: never saved)."""
        return self.store.plugins_config([plugin_id]).get(plugin_id)

    def set_plugin_settings(self, plugin_id: str, values: Dict[str, Any]) -> None:
        """Replace the plugin's saved settings, as the settings page does."""
        self.store.configure_plugin(plugin_id, values)
        self.settings_changed()
