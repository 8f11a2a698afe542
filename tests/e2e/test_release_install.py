"""The README's install steps, run as a user runs them, against the emulated Stash and Plex.

scripts/release builds the published folder from a clone of this repository; a thread
HTTP server plays GitHub Pages; every Stash step goes through GraphQL as its web UI
sends it: add the source, install, save settings, save a scene. Then a newer release
(a commit with a bumped version) is published and upgraded over the running install:
queued work and settings live in plugin_data/, outside the plugin folder, and survive.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.e2e.conftest import PLEX_PREFIX, PLUGIN_ID, STASH_PREFIX, PluginEnv, torn_down
from tests.release_support import (bump_version, clone, commit_all, gql, head_epoch,
                                   run_release, serve_directory, wait_job)
from tests.support import wait_until

ADD_SOURCE = """mutation($s: [PackageSourceInput!]) {
  configureGeneral(input: {pluginPackageSources: $s}) { pluginPackageSources { url } } }"""
AVAILABLE = """query($u: String!) { availablePackages(type: Plugin, source: $u) {
  package_id name version date requires { package_id } } }"""
INSTALL = "mutation($p: [PackageSpecInput!]!) { installPackages(type: Plugin, packages: $p) }"
UPDATE = "mutation($p: [PackageSpecInput!]) { updatePackages(type: Plugin, packages: $p) }"
CHECK_UPDATES = "{ installedPackages(type: Plugin) { package_id version source_package { version } } }"
CONFIGURE = "mutation($i: Map!) { configurePlugin(plugin_id: \"Stash2Plex\", input: $i) }"
SAVE_SCENE = "mutation($i: SceneUpdateInput!) { sceneUpdate(input: $i) { id title } }"
PLUGINS = "{ plugins { id version enabled } }"
SETTINGS = '{ configuration { plugins(include: ["Stash2Plex"]) } }'


@pytest.fixture
def world(tmp_path):
    """A bare Stash (no plugin, no settings) with Plex beside it: the user installs it."""
    with torn_down(PluginEnv(str(tmp_path), with_plugin=False)) as env:
        yield env


def release_version(dist):
    with open(os.path.join(dist, "index.yml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)[0]["version"]


def test_install_from_plugin_source_then_upgrade(world, tmp_path):
    stash, plex = world.stash, world.plex
    repo = clone(str(tmp_path / "repo"))
    site = str(tmp_path / "site")
    run_release(repo, site)  # what the release workflow publishes
    first = release_version(site)

    with serve_directory(site) as base:
        index_url = base + "/index.yml"
        # 1. Settings -> Plugins -> Available Plugins -> Add Source.
        gql(stash, ADD_SOURCE, s=[{"name": "Stash2Plex", "url": index_url}])
        # 2. The source lists Stash2Plex; tick it and Install.
        listed = gql(stash, AVAILABLE, u=index_url)["availablePackages"]
        assert [(p["package_id"], p["version"], p["requires"]) for p in listed] == \
            [(PLUGIN_ID, first, [])]
        job = gql(stash, INSTALL, p=[{"id": PLUGIN_ID, "sourceURL": index_url}])["installPackages"]
        assert wait_job(stash, job)["status"] == "FINISHED"
        assert stash.packages.log_errors() == []
        plugin_dir = os.path.join(stash.packages.plugins_dir, PLUGIN_ID)
        assert os.path.isfile(os.path.join(plugin_dir, "Stash2Plex.yml"))
        assert {"id": PLUGIN_ID, "version": first, "enabled": True} in gql(stash, PLUGINS)["plugins"]

        # 3. Dependencies: the README's pip command, against the installed requirements.txt
        # (--no-index keeps the test offline; everything is already in this interpreter).
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "-r",
                              os.path.join(plugin_dir, "requirements.txt")],
                             capture_output=True, text=True, timeout=120)
        assert pip.returncode == 0, pip.stdout + pip.stderr

        # 4. Settings -> Plugins -> Stash2Plex: save the Plex URL, token and path map.
        settings = {"plex_url": plex.url, "plex_token": world.token,
                    "path_map": "%s => %s" % (STASH_PREFIX, PLEX_PREFIX), "poll_interval": 0.2,
                    "retry_base_seconds": 1, "retry_cap_seconds": 2}
        gql(stash, CONFIGURE, i=settings)

        # 5. Edit a scene in Stash: the installed plugin's hook queues it, Plex gets it.
        first_id, second_id = world.seed(2)
        gql(stash, SAVE_SCENE, i={"id": str(first_id), "title": "Installed from the source"})
        run = stash.hook_runs[-1]
        assert run.plugin_id == PLUGIN_ID and run.result.error is None
        assert os.path.realpath(run.result.argv[1]).startswith(os.path.realpath(plugin_dir))
        wait_until(lambda: world.plex_title(first_id) == "Installed from the source", 30,
                   "the installed plugin to sync the scene to Plex")

        # Plex goes away; a save is queued and waits for it.
        plex.go_down()
        gql(stash, SAVE_SCENE, i={"id": str(second_id), "title": "Queued across the upgrade"})
        wait_until(lambda: world.rows("SELECT 1 FROM retry_schedule WHERE scene_id = ?", [second_id]),
                   30, "the save to wait in the retry schedule")
        world.stop_drainers()
        queued_before = world.rows("SELECT scene_id FROM retry_schedule")
        assert queued_before == [(second_id,)]

        # 6. A newer release is published (a commit that bumps the version).
        bump_version(repo, "99.0.0")
        commit_all(repo, "Release 99.0.0", head_epoch(repo) + 86400)
        run_release(repo, site)
        # Installed Plugins -> Check for updates -> Update.
        status = gql(stash, CHECK_UPDATES)["installedPackages"]
        assert status == [{"package_id": PLUGIN_ID, "version": first,
                           "source_package": {"version": "99.0.0"}}]
        job = gql(stash, UPDATE, p=[{"id": PLUGIN_ID, "sourceURL": index_url}])["updatePackages"]
        assert wait_job(stash, job)["status"] == "FINISHED"
        assert stash.packages.log_errors() == []
        assert {"id": PLUGIN_ID, "version": "99.0.0", "enabled": True} in gql(stash, PLUGINS)["plugins"]

        # Settings and queued work survived: they live outside the plugin folder.
        assert gql(stash, SETTINGS)["configuration"]["plugins"][PLUGIN_ID] == settings
        assert world.rows("SELECT scene_id FROM retry_schedule") == queued_before
        plex.come_up()
        gql(stash, SAVE_SCENE, i={"id": str(first_id), "title": "After the upgrade"})
        wait_until(lambda: world.titles_in_plex({first_id: "After the upgrade",
                                                 second_id: "Queued across the upgrade"}),
                   60, "the upgraded plugin to drain the queued save and the new one")
