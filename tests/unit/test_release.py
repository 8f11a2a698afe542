"""scripts/release: what Stash's package manager downloads (dist/index.yml + the zip).

Stash (pkg/pkg) reads index.yml as a list of packages, checks the zip's sha256 and
unpacks it as the plugin folder; so the zip holds exactly the run-time files, is the
same bytes for the same commit, and the index names it with the right digest.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from datetime import datetime, timezone

import pytest
import yaml

from tests.release_support import (ROOT, bump_version, clone, commit_all, committed_files,
                                   git, head_epoch, run_release)

PRODUCT_DIRS = ("errors", "mapping", "plugin", "plex", "stash", "sync_queue", "tasks", "validation", "worker", "ui")
ROOT_FILES = ("Stash2Plex.yml", "Stash2Plex.py", "requirements.txt", "README.md")
INDEX_KEYS = {"id", "name", "version", "date", "path", "sha256", "requires", "metadata"}


def expected_names(repo: str):
    """The run-time files of the committed tree, by the rule the README states."""
    names = []
    for path in committed_files(repo):
        top = path.split("/", 1)[0]
        if path in ROOT_FILES or re.match(r"^LICENSE(\.\w+)?$", path) or \
                ("/" in path and top in PRODUCT_DIRS):
            if "__pycache__" not in path.split("/") and not path.endswith(".pyc"):
                names.append(path)
    return sorted(names)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("dist"))
    run_release(ROOT, out)
    return out


def read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def test_two_builds_of_one_commit_are_byte_identical(built, tmp_path):
    again = str(tmp_path / "again")
    run_release(ROOT, again)
    assert sorted(os.listdir(built)) == ["Stash2Plex.zip", "index.yml"]
    assert read(os.path.join(built, "Stash2Plex.zip")) == read(os.path.join(again, "Stash2Plex.zip"))
    assert read(os.path.join(built, "index.yml")) == read(os.path.join(again, "index.yml"))


def test_zip_holds_exactly_the_runtime_files(built):
    with zipfile.ZipFile(os.path.join(built, "Stash2Plex.zip")) as zf:
        names = zf.namelist()
        infos = zf.infolist()
        for info in infos:
            assert zf.read(info) == git(ROOT, "show", "HEAD:" + info.filename).encode("utf-8")
    assert names == expected_names(ROOT)  # sorted, no directory entries
    assert "Stash2Plex.yml" in names  # the zip root is the plugin folder
    # Stash parses every *.yml under plugins/ as a plugin: only ours may ship.
    assert [n for n in names if n.endswith(".yml")] == ["Stash2Plex.yml"]
    for banned in ("tests/", "testbed/", "bench/", "scripts/", "docs/", ".ci/", ".github/"):
        assert not any(n.startswith(banned) for n in names), banned
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "plugin/main.py" in names and "requirements.txt" in names


def test_zip_entries_have_fixed_times_and_git_modes(built):
    modes = {}
    for line in git(ROOT, "ls-tree", "-r", "HEAD").splitlines():
        meta, path = line.split("\t", 1)
        modes[path] = int(meta.split()[0], 8)
    with zipfile.ZipFile(os.path.join(built, "Stash2Plex.zip")) as zf:
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.create_system == 3  # Unix: Go's zip reader takes the mode from it
            assert info.external_attr >> 16 == modes[info.filename]
            assert info.compress_type == zipfile.ZIP_DEFLATED


def test_index_fields_formats_and_digest(built):
    with open(os.path.join(built, "index.yml"), encoding="utf-8") as fh:
        index = yaml.safe_load(fh)
    manifest = yaml.safe_load(git(ROOT, "show", "HEAD:Stash2Plex.yml"))
    assert isinstance(index, list) and len(index) == 1
    pkg = index[0]
    assert set(pkg) == INDEX_KEYS
    assert pkg["id"] == "Stash2Plex"
    assert pkg["name"] == manifest["name"]
    assert pkg["version"] == str(manifest["version"])
    assert isinstance(pkg["date"], str)  # quoted: Stash parses it with its own layout
    when = datetime.fromtimestamp(head_epoch(ROOT), tz=timezone.utc)
    assert pkg["date"] == when.strftime("%Y-%m-%d %H:%M:%S")
    assert pkg["path"] == "Stash2Plex.zip"  # relative to the index URL
    digest = hashlib.sha256(read(os.path.join(built, "Stash2Plex.zip"))).hexdigest()
    assert pkg["sha256"] == digest
    assert pkg["requires"] == []  # see docs/decisions.md: dependencies come from elsewhere
    assert isinstance(pkg["metadata"], dict)


def test_builds_the_committed_tree_not_the_working_tree(tmp_path):
    repo = clone(str(tmp_path / "repo"))
    out_before = str(tmp_path / "before")
    run_release(repo, out_before)
    # Uncommitted edits, untracked files and caches never reach the zip.
    with open(os.path.join(repo, "plugin", "main.py"), "a", encoding="utf-8") as fh:
        fh.write("\n# uncommitted\n")
    os.makedirs(os.path.join(repo, "plugin", "__pycache__"), exist_ok=True)
    with open(os.path.join(repo, "plugin", "__pycache__", "main.cpython-39.pyc"), "wb") as fh:
        fh.write(b"\0")
    with open(os.path.join(repo, "worker", "scratch.py"), "w", encoding="utf-8") as fh:
        fh.write("x = 1\n")
    out_after = str(tmp_path / "after")
    run_release(repo, out_after)
    assert read(os.path.join(out_before, "Stash2Plex.zip")) == read(os.path.join(out_after, "Stash2Plex.zip"))


def test_version_and_date_follow_the_release_commit(tmp_path):
    repo = clone(str(tmp_path / "repo"))
    later = head_epoch(repo) + 86400
    bump_version(repo, "9.8.7")
    commit_all(repo, "Release 9.8.7", later)
    out = str(tmp_path / "dist")
    run_release(repo, out)
    with open(os.path.join(out, "index.yml"), encoding="utf-8") as fh:
        pkg = yaml.safe_load(fh)[0]
    assert pkg["version"] == "9.8.7"
    assert pkg["date"] == datetime.fromtimestamp(later, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def test_refuses_a_second_plugin_yml(tmp_path):
    repo = clone(str(tmp_path / "repo"))
    with open(os.path.join(repo, "worker", "extra.yml"), "w", encoding="utf-8") as fh:
        fh.write("name: not a plugin\n")
    commit_all(repo, "Add a yml", head_epoch(repo) + 60)
    proc = run_release(repo, str(tmp_path / "dist"), check=False)
    assert proc.returncode != 0
    assert "worker/extra.yml" in proc.stderr and ".yaml" in proc.stderr
    assert not os.path.exists(str(tmp_path / "dist" / "index.yml"))


def test_only_the_plugin_manifest_is_named_yml_and_the_workflow_publishes_dist():
    # A clone of this repository inside Stash's plugins folder must load as one plugin.
    tracked = git(ROOT, "ls-files").splitlines()
    assert [p for p in tracked if p.endswith(".yml")] == ["Stash2Plex.yml"]
    with open(os.path.join(ROOT, ".github", "workflows", "release.yaml"), encoding="utf-8") as fh:
        workflow = yaml.safe_load(fh)
    steps = workflow["jobs"]["publish"]["steps"]
    assert any("scripts/release --out dist" in str(s.get("run", "")) for s in steps)
    assert any(s.get("with", {}).get("path") == "dist" for s in steps)
    assert workflow[True]["push"]["tags"] == ["v*"]  # YAML 1.1 reads the key `on` as true
