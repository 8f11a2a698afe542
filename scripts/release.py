"""Build a Stash plugin source (index.yml + Stash2Plex.zip) from a commit.

Stash's package manager (Settings > Plugins > Available Plugins) reads index.yml from a
URL, downloads the zip named by `path` relative to it, refuses it unless its sha256
matches, and unpacks it as plugins/<id>/. So the zip is the plugin folder, built from
the committed tree only (never the working tree) and byte-for-byte reproducible, so the
digest of a commit never changes. Standard library only: CI needs nothing but git.

    python3 scripts/release.py [--repo DIR] [--rev REV] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from typing import Dict, List, Tuple

PLUGIN_ID = "Stash2Plex"
MANIFEST = PLUGIN_ID + ".yml"
ZIP_NAME = PLUGIN_ID + ".zip"
# What the plugin needs at run time; everything else (tests, testbed, bench, docs,
# scripts, CI) stays out of the package.
ROOT_FILES = {MANIFEST, PLUGIN_ID + ".py", "requirements.txt", "README.md"}
LICENSE_RE = re.compile(r"^LICENSE(\.[A-Za-z]+)?$")
PRODUCT_DIRS = {"errors", "mapping", "plugin", "plex", "stash", "sync_queue", "tasks", "validation", "worker", "ui"}
# The zip format's earliest date: entries carry no build-time information.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
UNIX = 3  # create_system: Go's archive/zip takes the file mode from the Unix attributes
# Stash's pkg.TimeFormat; index dates are UTC.
STASH_TIME = "%Y-%m-%d %H:%M:%S"


class ReleaseError(Exception):
    """The commit cannot be published as it is; the message says why."""


def _git(repo: str, *args: str) -> bytes:
    proc = subprocess.run(["git", "-C", repo, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise ReleaseError("git %s: %s" % (" ".join(args), proc.stderr.decode(errors="replace").strip()))
    return proc.stdout


def is_runtime(path: str) -> bool:
    parts = path.split("/")
    if "__pycache__" in parts or path.endswith(".pyc"):
        return False
    if len(parts) == 1:
        return path in ROOT_FILES or bool(LICENSE_RE.match(path))
    return parts[0] in PRODUCT_DIRS


def runtime_entries(repo: str, rev: str) -> List[Tuple[str, int, str]]:
    """(path, mode, blob id) of the run-time files in `rev`, sorted by path."""
    out = []
    for record in _git(repo, "ls-tree", "-r", "-z", "--full-tree", rev).split(b"\0"):
        if not record:
            continue
        meta, path_b = record.split(b"\t", 1)
        mode_s, kind, blob = meta.decode().split()
        path = path_b.decode("utf-8")
        if not is_runtime(path):
            continue
        if kind != "blob" or mode_s not in ("100644", "100755"):
            raise ReleaseError("%s is a %s (mode %s); only regular files can ship" % (path, kind, mode_s))
        if path.endswith(".yml") and path != MANIFEST:
            # Stash loads every *.yml under plugins/ as a plugin and rejects unknown keys.
            raise ReleaseError("%s would load in Stash as a second plugin: name it .yaml" % path)
        out.append((path, int(mode_s, 8), blob))
    if not any(p == MANIFEST for p, _m, _b in out):
        raise ReleaseError("%s is not committed in %s" % (MANIFEST, rev))
    return sorted(out)


def read_blobs(repo: str, blobs: List[str]) -> Dict[str, bytes]:
    """Every blob's bytes through one `git cat-file --batch`."""
    proc = subprocess.run(["git", "-C", repo, "cat-file", "--batch"],
                          input="".join(b + "\n" for b in blobs).encode(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    data, pos, found = proc.stdout, 0, {}
    for blob in blobs:
        end = data.index(b"\n", pos)
        sha, _kind, size = data[pos:end].decode().split()
        start = end + 1
        found[sha] = data[start:start + int(size)]
        pos = start + int(size) + 1
    return found


def build_zip(entries: List[Tuple[str, int, str]], blobs: Dict[str, bytes]) -> bytes:
    """The plugin folder as zip bytes: sorted, fixed times, git's modes, no directories."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, mode, blob in entries:
            info = zipfile.ZipInfo(path, date_time=FIXED_TIME)
            info.create_system = UNIX
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, blobs[blob], compresslevel=9)
    return buf.getvalue()


def manifest_field(text: str, key: str) -> str:
    """A top-level scalar of Stash2Plex.yml (the version lives only there)."""
    match = re.search(r"(?m)^%s:[ \t]*(.*?)[ \t]*$" % re.escape(key), text)
    value = match.group(1) if match else ""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    if not value:
        raise ReleaseError("%s has no %s: line" % (MANIFEST, key))
    return value


def commit_date(repo: str, rev: str) -> str:
    """The commit's committer date in Stash's index format (UTC)."""
    epoch = int(_git(repo, "show", "-s", "--format=%ct", rev + "^{commit}").strip())
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime(STASH_TIME)


def index_yaml(package: Dict[str, object]) -> str:
    """index.yml by hand: JSON strings are valid YAML double-quoted scalars, so every
    value stays a string (a digest of only digits, or a date, is never retyped)."""
    lines = []
    for n, (key, value) in enumerate(package.items()):
        text = json.dumps(value) if isinstance(value, str) else \
            ("[]" if value == [] else "{}" if value == {} else None)
        if text is None:
            raise ValueError("unsupported index value for %s" % key)
        lines.append("%s%s: %s" % ("- " if n == 0 else "  ", key, text))
    return "\n".join(lines) + "\n"


def build(repo: str, rev: str, out_dir: str) -> Dict[str, object]:
    entries = runtime_entries(repo, rev)
    blobs = read_blobs(repo, sorted({b for _p, _m, b in entries}))
    manifest_text = blobs[[b for p, _m, b in entries if p == MANIFEST][0]].decode("utf-8")
    data = build_zip(entries, blobs)
    package: Dict[str, object] = {
        "id": PLUGIN_ID,
        "name": manifest_field(manifest_text, "name"),
        "metadata": {},
        "version": manifest_field(manifest_text, "version"),
        "date": commit_date(repo, rev),
        "requires": [],  # Stash resolves requires only within this source: docs/decisions.md
        "path": ZIP_NAME,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    os.makedirs(out_dir, exist_ok=True)
    # Zip first, index last: a reader never sees an index naming a zip not yet written.
    for name, payload in ((ZIP_NAME, data), ("index.yml", index_yaml(package).encode("utf-8"))):
        tmp = os.path.join(out_dir, name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, os.path.join(out_dir, name))
    return package


def main(argv: List[str]) -> int:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=here, help="repository to build from (default: this one)")
    parser.add_argument("--rev", default="HEAD", help="commit to build (default: HEAD)")
    parser.add_argument("--out", default=None, help="output folder (default: <repo>/dist)")
    args = parser.parse_args(argv)
    out = args.out or os.path.join(args.repo, "dist")
    try:
        package = build(args.repo, args.rev, out)
    except ReleaseError as exc:
        print("release: %s" % exc, file=sys.stderr)
        return 1
    print("%s %s (%s) sha256 %s -> %s" % (package["id"], package["version"], package["date"],
                                          package["sha256"], out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
