"""The Stash emulator's plugin package manager behaves as Stash's (pkg/pkg, v0.25+).

Sources are index.yml URLs; install fetches the zip named by `path` (relative to the
index), refuses a sha256 mismatch, unpacks into plugins/<local_path>/<id>/, writes a
`manifest` listing the files, and reloads plugins. An upgrade deletes exactly the old
manifest's files before unpacking; anything else in the folder stays.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile

import pytest
import yaml

from testbed.stash import StashEmulator
from tests.release_support import gql, serve_directory, wait_job

PROBE_YML = """\
name: Probe
description: A tiny plugin for package manager tests.
version: {version}
exec:
  - python3
  - "{{pluginDir}}/probe.py"
interface: raw
tasks:
  - name: Hello
    description: Says hello.
    defaultArgs:
      mode: hello
"""
PROBE_PY = 'import json, sys\nsys.stdin.read()\nprint(json.dumps({"output": "hello"}))\n'

AVAILABLE = """query($u: String!) { availablePackages(type: Plugin, source: $u) {
  package_id name version date sourceURL metadata requires { package_id name } } }"""
INSTALL = """mutation($p: [PackageSpecInput!]!) { installPackages(type: Plugin, packages: $p) }"""
UPDATE = """mutation($p: [PackageSpecInput!]) { updatePackages(type: Plugin, packages: $p) }"""
UNINSTALL = """mutation($p: [PackageSpecInput!]!) { uninstallPackages(type: Plugin, packages: $p) }"""
INSTALLED = """{ installedPackages(type: Plugin) { package_id version date sourceURL
  source_package { version date } } }"""
PLUGINS = "{ plugins { id name version enabled } }"
SOURCES = """mutation($s: [PackageSourceInput!]) {
  configureGeneral(input: {pluginPackageSources: $s}) { pluginPackageSources { name url local_path } } }"""


def make_zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in sorted(files.items()):
            zf.writestr(name, text)
    return buf.getvalue()


def publish(folder, packages):
    """Write index.yml and one zip per package: packages = [(id, version, date, files, extra)]."""
    index = []
    for pkg_id, version, date, files, extra in packages:
        data = make_zip(files)
        name = "%s-%s.zip" % (pkg_id, version)
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(data)
        entry = {"id": pkg_id, "name": pkg_id.title(), "version": version, "date": date,
                 "path": name, "sha256": hashlib.sha256(data).hexdigest(), "requires": [],
                 "metadata": {}}
        entry.update(extra)
        index.append(entry)
    with open(os.path.join(folder, "index.yml"), "w", encoding="utf-8") as fh:
        yaml.safe_dump(index, fh, sort_keys=False)


def probe_files(version, **more):
    files = {"Probe.yml": PROBE_YML.format(version=version), "probe.py": PROBE_PY}
    files.update(more)
    return files


@pytest.fixture
def stash(tmp_path):
    emu = StashEmulator(config_dir=str(tmp_path / "config")).start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    with serve_directory(str(folder)) as base:
        yield str(folder), base + "/index.yml"


def install(stash, url, *ids):
    job = gql(stash, INSTALL, p=[{"id": i, "sourceURL": url} for i in ids])["installPackages"]
    assert wait_job(stash, job)["status"] == "FINISHED"


def test_available_packages_read_the_index_over_http(stash, site):
    folder, url = site
    publish(folder, [
        ("probe", "1.0", "2024-05-01 10:00:00", probe_files("1.0"),
         {"requires": ["helper"], "metadata": {"note": "x"}}),
        ("helper", "0.3", "2024-04-01 09:00:00", {"Helper.yml": "name: Helper\n"}, {}),
    ])
    found = gql(stash, AVAILABLE, u=url)["availablePackages"]
    assert [p["package_id"] for p in found] == ["helper", "probe"]  # sorted by id
    probe = found[1]
    assert probe["version"] == "1.0" and probe["name"] == "Probe"
    assert probe["date"] == "2024-05-01T10:00:00Z"
    assert probe["sourceURL"] == url
    assert probe["metadata"] == {"note": "x"}
    assert probe["requires"] == [{"package_id": "helper", "name": "Helper"}]


def test_sources_are_saved_in_the_general_configuration(stash, site):
    _folder, url = site
    saved = gql(stash, SOURCES, s=[{"name": "Mine", "url": url}])
    assert saved["configureGeneral"]["pluginPackageSources"] == [
        {"name": "Mine", "url": url, "local_path": None}]
    again = gql(stash, "{ configuration { general { pluginPackageSources { url } } } }")
    assert again["configuration"]["general"]["pluginPackageSources"] == [{"url": url}]


def test_install_unpacks_writes_manifest_and_loads_the_plugin(stash, site):
    folder, url = site
    publish(folder, [("probe", "1.0", "2024-05-01 10:00:00", probe_files("1.0", **{"lib/x.py": "X = 1\n"}), {})])
    install(stash, url, "probe")
    pkg_dir = os.path.join(stash.packages.plugins_dir, "probe")
    assert sorted(os.listdir(pkg_dir)) == ["Probe.yml", "lib", "manifest", "probe.py"]
    with open(os.path.join(pkg_dir, "manifest"), encoding="utf-8") as fh:
        manifest = yaml.safe_load(fh)
    assert manifest["id"] == "probe" and manifest["version"] == "1.0"
    assert manifest["date"] == "2024-05-01 10:00:00"
    assert manifest["source_repository"] == url
    assert sorted(manifest["files"]) == ["Probe.yml", "lib/x.py", "probe.py"]
    plugins = gql(stash, PLUGINS)["plugins"]
    assert {"id": "Probe", "name": "Probe", "version": "1.0", "enabled": True} in plugins
    installed = gql(stash, INSTALLED)["installedPackages"]
    assert installed == [{"package_id": "probe", "version": "1.0", "date": "2024-05-01T10:00:00Z",
                          "sourceURL": url, "source_package": {"version": "1.0",
                                                               "date": "2024-05-01T10:00:00Z"}}]
    job = gql(stash, 'mutation { runPluginTask(plugin_id: "Probe", task_name: "Hello") }')
    assert wait_job(stash, job["runPluginTask"])["status"] == "FINISHED"


def test_sha256_mismatch_refuses_the_install(stash, site):
    folder, url = site
    publish(folder, [("probe", "1.0", "2024-05-01 10:00:00", probe_files("1.0"), {"sha256": "0" * 64})])
    install(stash, url, "probe")  # the job finishes; the error is only logged, as in Stash
    assert not os.path.exists(os.path.join(stash.packages.plugins_dir, "probe"))
    assert any("does not match expected SHA256" in text for _lvl, text in stash.packages.log)
    assert gql(stash, PLUGINS)["plugins"] == []


def test_upgrade_deletes_only_the_old_manifest_files(stash, site):
    folder, url = site
    publish(folder, [("probe", "1.0", "2024-05-01 10:00:00",
                      probe_files("1.0", **{"old.py": "gone\n", "lib/keep.py": "v1\n"}), {})])
    install(stash, url, "probe")
    pkg_dir = os.path.join(stash.packages.plugins_dir, "probe")
    with open(os.path.join(pkg_dir, "user-notes.txt"), "w", encoding="utf-8") as fh:
        fh.write("mine\n")
    publish(folder, [("probe", "1.1", "2024-06-01 10:00:00",
                      probe_files("1.1", **{"lib/keep.py": "v2\n", "new.py": "new\n"}), {})])
    installed = gql(stash, INSTALLED)["installedPackages"][0]
    assert installed["version"] == "1.0" and installed["source_package"]["version"] == "1.1"
    job = gql(stash, UPDATE, p=None)["updatePackages"]  # no list: every upgradable package
    assert wait_job(stash, job)["status"] == "FINISHED"
    assert sorted(os.listdir(pkg_dir)) == ["Probe.yml", "lib", "manifest", "new.py", "probe.py",
                                           "user-notes.txt"]
    with open(os.path.join(pkg_dir, "lib", "keep.py"), encoding="utf-8") as fh:
        assert fh.read() == "v2\n"
    assert [p["version"] for p in gql(stash, PLUGINS)["plugins"]] == ["1.1"]


def test_update_skips_a_package_that_is_not_newer(stash, site):
    folder, url = site
    publish(folder, [("probe", "1.0", "2024-05-01 10:00:00", probe_files("1.0"), {})])
    install(stash, url, "probe")
    publish(folder, [("probe", "0.9", "2024-04-01 10:00:00", probe_files("0.9"), {})])
    job = gql(stash, UPDATE, p=None)["updatePackages"]
    wait_job(stash, job)
    assert [p["version"] for p in gql(stash, PLUGINS)["plugins"]] == ["1.0"]


def test_local_path_of_a_source_is_the_install_folder(stash, site):
    folder, url = site
    gql(stash, SOURCES, s=[{"name": "Community", "url": url, "local_path": "community"}])
    publish(folder, [("probe", "1.0", "2024-05-01 10:00:00", probe_files("1.0"), {})])
    install(stash, url, "probe")
    assert os.path.exists(os.path.join(stash.packages.plugins_dir, "community", "probe", "manifest"))


def test_uninstall_removes_the_files_and_unloads(stash, site):
    folder, url = site
    publish(folder, [("probe", "1.0", "2024-05-01 10:00:00", probe_files("1.0"), {})])
    install(stash, url, "probe")
    job = gql(stash, UNINSTALL, p=[{"id": "probe", "sourceURL": url}])["uninstallPackages"]
    wait_job(stash, job)
    assert not os.path.exists(os.path.join(stash.packages.plugins_dir, "probe"))
    assert gql(stash, PLUGINS)["plugins"] == []
    assert gql(stash, INSTALLED)["installedPackages"] == []
