"""Plugin packages: sources, install, upgrade and uninstall, as Stash's pkg/pkg does them.

Mirrors stashapp/stash pkg/pkg (manager.go, store.go, repository_http.go, pkg.go) and
internal/manager/task/packages.go:
- a source is an index.yml URL: a YAML list of {id, name, version, date
  ("2006-01-02 15:04:05", UTC), path, sha256, requires, metadata}; `path` is resolved
  against the index URL's folder unless it is absolute or a URL;
- install fetches the zip, refuses it when its sha256 differs from the index's, then,
  if a manifest exists, deletes exactly the files it lists and the manifest (other files
  stay), unpacks every file into plugins/<source local_path>/<id>/ and writes a
  `manifest` (id, name, metadata, version, date, requires, source_repository, files);
- an update installs again every package whose source has a later date;
- installs run as a background job whose per-package errors are only logged; when the
  job ends, plugins are reloaded (RefreshPluginCache).
Stash also caches an index by its Last-Modified header; the emulator always refetches.
"""
from __future__ import annotations

import hashlib
import io
import os
import posixpath
import threading
import urllib.parse
import urllib.request
import zipfile
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple

import yaml

MANIFEST_FILE = "manifest"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # pkg.TimeFormat
FETCH_TIMEOUT = 30.0


class PackageError(Exception):
    """One package could not be installed; the job logs it and goes on."""


def parse_date(text: Any) -> Optional[datetime]:
    if not text:
        return None
    return datetime.strptime(str(text), TIME_FORMAT).replace(tzinfo=timezone.utc)


def _later(a: Optional[datetime], b: Optional[datetime]) -> bool:
    """a.After(b), a missing date being Go's zero time."""
    return a is not None and (b is None or a > b)


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as resp:  # noqa: S310 - loopback only
        return resp.read()


def resolve_path(index_url: str, path: str) -> str:
    """repository_http.go resolvePath: a URL as is, else absolute or relative to the index."""
    parsed = urllib.parse.urlsplit(path)
    if parsed.scheme and (parsed.netloc or parsed.scheme == "file"):
        return path
    base = urllib.parse.urlsplit(index_url)
    joined = path if posixpath.isabs(path) else posixpath.join(posixpath.dirname(base.path), path)
    return urllib.parse.urlunsplit((base.scheme, base.netloc, posixpath.normpath(joined), base.query, ""))


class PackageManager:
    """The plugin package manager of one emulated Stash."""

    def __init__(self, plugins_dir: str, on_change: Callable[[], None],
                 next_job_id: Callable[[], str]) -> None:
        self.plugins_dir = plugins_dir
        self.sources: List[Dict[str, Any]] = []  # plugins.package_sources in config.yml
        self.log: List[Tuple[str, str]] = []  # (level, message) Stash would log
        self.jobs: Dict[str, Dict[str, Any]] = {}
        self._on_change = on_change
        self._next_job_id = next_job_id
        self._lock = threading.Lock()

    # -- sources and listings ------------------------------------------------------

    def set_sources(self, sources: List[Dict[str, Any]]) -> None:
        self.sources = [{"name": s.get("name"), "url": s["url"], "local_path": s.get("local_path")}
                        for s in sources]

    def _local_path(self, source_url: str) -> str:
        for source in self.sources:
            if source["url"] == source_url:
                return source.get("local_path") or ""
        return ""

    def remote(self, source_url: str) -> List[Dict[str, Any]]:
        """The source's index, newest entry per id (remotePackageIndexFromList)."""
        try:
            listed = yaml.safe_load(_fetch(source_url)) or []
        except (OSError, yaml.YAMLError) as exc:
            raise PackageError("listing remote packages: failed to get package list: %s" % exc) from exc
        newest: Dict[str, Dict[str, Any]] = {}
        for entry in listed:
            pkg = dict(entry, date=parse_date(entry.get("date")), source_url=source_url)
            old = newest.get(pkg["id"])
            if old is None or not _later(old["date"], pkg["date"]):  # the newest date wins
                newest[pkg["id"]] = pkg
        return [newest[k] for k in sorted(newest, key=lambda i: (i.lower(), i))]

    def _store(self, source_url: str) -> str:
        local = self._local_path(source_url)
        return os.path.join(self.plugins_dir, local) if local not in ("", ".") else self.plugins_dir

    def installed(self) -> List[Dict[str, Any]]:
        """Every manifest under the plugins folder and each configured source's folder."""
        found: Dict[Tuple[str, str], Dict[str, Any]] = {}
        stores = {self.plugins_dir} | {self._store(s["url"]) for s in self.sources}
        for store in sorted(stores):
            if not os.path.isdir(store):
                continue
            for name in sorted(os.listdir(store)):
                path = os.path.join(store, name, MANIFEST_FILE)
                if os.path.isfile(path):
                    with open(path, encoding="utf-8") as fh:
                        manifest = yaml.safe_load(fh) or {}
                    manifest["date"] = parse_date(manifest.get("date"))
                    found[(manifest["id"], manifest.get("source_repository") or "")] = manifest
        return [found[k] for k in sorted(found, key=lambda k: (k[0].lower(), k[0], k[1]))]

    # -- install, update, uninstall ------------------------------------------------

    def install(self, pkg_id: str, source_url: str) -> None:
        listed = {p["id"]: p for p in self.remote(source_url)}
        pkg = listed.get(pkg_id)
        if pkg is None:
            raise PackageError("getting remote package: package %s not found" % pkg_id)
        try:
            data = _fetch(resolve_path(source_url, str(pkg.get("path") or "")))
        except OSError as exc:
            raise PackageError("getting remote package: failed to get package file: %s" % exc) from exc
        digest = hashlib.sha256(data).hexdigest()
        if digest != pkg.get("sha256"):
            raise PackageError("package data (%s) does not match expected SHA256 (%s)"
                               % (digest, pkg.get("sha256")))
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise PackageError("reading zip data: %s" % exc) from exc
        pkg_dir = os.path.join(self._store(source_url), pkg_id)
        if os.path.isfile(os.path.join(pkg_dir, MANIFEST_FILE)):
            self._delete_files(pkg_dir)
        self._unpack(pkg, archive, pkg_dir)

    def _unpack(self, pkg: Dict[str, Any], archive: zipfile.ZipFile, pkg_dir: str) -> None:
        files = []
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = posixpath.normpath(info.filename)
            if name.startswith("../") or posixpath.isabs(name):
                raise PackageError("zip entry %s leaves the package folder" % info.filename)
            target = os.path.join(pkg_dir, *name.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(archive.read(info))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(target, mode)
            files.append(name)
        date = pkg.get("date")
        manifest = {"id": pkg["id"], "name": pkg.get("name") or "", "metadata": pkg.get("metadata") or {},
                    "version": pkg.get("version") or "",
                    "date": date.strftime(TIME_FORMAT) if date else "",
                    "requires": list(pkg.get("requires") or []),
                    "source_repository": pkg["source_url"], "files": files}
        with open(os.path.join(pkg_dir, MANIFEST_FILE), "w", encoding="utf-8") as fh:
            yaml.safe_dump(manifest, fh, sort_keys=False, allow_unicode=True)

    @staticmethod
    def _delete_files(pkg_dir: str) -> None:
        """deletePackageFiles: the manifest's files (errors ignored), then the manifest."""
        with open(os.path.join(pkg_dir, MANIFEST_FILE), encoding="utf-8") as fh:
            manifest = yaml.safe_load(fh) or {}
        for name in manifest.get("files") or []:
            try:
                os.remove(os.path.join(pkg_dir, *str(name).split("/")))
            except OSError:
                pass
        os.remove(os.path.join(pkg_dir, MANIFEST_FILE))

    def uninstall(self, pkg_id: str, source_url: str) -> None:
        pkg_dir = os.path.join(self._store(source_url), pkg_id)
        if not os.path.isfile(os.path.join(pkg_dir, MANIFEST_FILE)):
            raise PackageError("deleting local package: package \"%s\" does not exist" % pkg_id)
        self._delete_files(pkg_dir)
        try:  # Stash removes the folder too, ignoring the error when it is not empty
            os.rmdir(pkg_dir)
        except OSError:
            pass

    def upgradable(self) -> List[Tuple[str, str]]:
        """(id, source) of installed packages whose source lists a later date."""
        out = []
        for local in self.installed():
            source = local.get("source_repository") or ""
            try:
                remote = {p["id"]: p for p in self.remote(source)}
            except PackageError as exc:
                self.log.append(("warning", "error listing remote package %s: %s" % (source, exc)))
                continue
            found = remote.get(local["id"])
            if found and _later(found["date"], local["date"]):
                out.append((local["id"], source))
        return out

    # -- jobs ----------------------------------------------------------------------

    def start_job(self, action: str, specs: Optional[List[Dict[str, str]]]) -> str:
        """installPackages / updatePackages / uninstallPackages: a job id at once."""
        job_id = self._next_job_id()
        job = {"id": job_id, "status": "RUNNING", "description": "%s packages..." % action.title(),
               "error": None}
        with self._lock:
            self.jobs[job_id] = job
        threading.Thread(target=self._run, args=(job, action, specs), daemon=True,
                         name="stash-packages-%s" % job_id).start()
        return job_id

    def _run(self, job: Dict[str, Any], action: str, specs: Optional[List[Dict[str, str]]]) -> None:
        try:
            pairs = [(s["id"], s["sourceURL"]) for s in specs or []]
            if action == "update" and not pairs:
                pairs = self.upgradable()
            for pkg_id, source in pairs:
                try:
                    if action == "uninstall":
                        self.uninstall(pkg_id, source)
                    else:
                        self.install(pkg_id, source)
                except (PackageError, OSError) as exc:
                    self.log.append(("error", "Error %s package %s from %s: %s"
                                     % ({"install": "installing", "update": "updating",
                                         "uninstall": "uninstalling"}[action], pkg_id, source, exc)))
            self._on_change()  # RefreshPluginCache
            job["status"] = "FINISHED"
        except Exception as exc:  # noqa: BLE001 - an emulator bug: a failed job, visible
            job["status"], job["error"] = "FAILED", repr(exc)

    def log_errors(self) -> List[str]:
        return [text for level, text in self.log if level == "error"]
