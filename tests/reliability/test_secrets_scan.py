"""Secrets stay secret, paths stay hidden on request (promise 11).

Every reliability test already ends with a scan (tests/reliability/conftest.py): each
log line, task output and file its plugin runs produced is searched for the Plex
token, every Stash session cookie handed to the plugin and Stash's API key. This file
adds the scenario most likely to leak: Stash with authentication on (the plugin
trades its cookie for the API key), debug logging, every task button, and every kind
of failure whose message could carry a URL: a rejected Plex token, Plex answering
500, hanging past the timeout and going down, Stash rejecting an expired session, dead
letters with their reasons.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.reliability.conftest import PLEX_PREFIX, STASH_PREFIX, wait_until

TASKS = ["Health Check", "Rebuild Plex Index", "Reconcile Plex", "Import Plex Activity"]


def _everything_logged(tb) -> str:
    texts = []
    for result in tb.all_results():
        texts.append(result.raw_stdout)
        texts.extend(text for _, text in result.logs)
    log_dir = os.path.join(tb.data_dir, "logs")
    for name in os.listdir(log_dir) if os.path.isdir(log_dir) else []:
        with open(os.path.join(log_dir, name), encoding="utf-8", errors="replace") as fh:
            texts.append(fh.read())
    return "\n".join(texts)


@pytest.mark.slow
def test_no_secret_anywhere_after_every_task_and_failure(make_testbed):
    tb = make_testbed(scenes=12, auth=True, settings={"debug_logging": True, "plex_timeout": 1})
    assert tb.stash.api_key
    assert tb.run_task("Sync All Scenes").error is None
    for task in TASKS:
        tb.run_task(task)

    # Plex answers 500, then hangs past the 1 s timeout, then goes away for a moment.
    tb.plex.faults.fail(3, 500)
    tb.edit(tb.scene_ids[0], title="Edited while Plex answered 500")
    tb.plex.faults.hang(n=2, hold=2.0)
    tb.edit(tb.scene_ids[1], title="Edited while Plex hung")
    tb.plex.go_down()
    tb.edit(tb.scene_ids[2], title="Edited while Plex was down")
    tb.run_task("Process Queue")
    tb.run_task("Health Check")
    tb.plex.come_up()
    tb.wait_synced(tb.scene_ids[:3], 40)

    # A hook for a scene without a file (nothing to find in Plex): a dead letter; review it and retry it.
    fileless = tb.stash.add_scene(title="No file anywhere")
    tb.finish(tb.start_hook(fileless, input={"title": "still no file"}))
    wait_until(lambda: tb.counts()["dead_letters"] >= 1, 30, "the file-less scene to be dead-lettered")
    for task in ("Review Dead Letters", "Retry Dead Letters", "Purge Old Dead Letters", "Queue Status"):
        tb.run_task(task)

    # Plex rejects the token (it was rotated); then Stash rejects the plugin's session.
    tb.plex.rotate_token("a-new-token-the-plugin-does-not-know")
    tb.edit(tb.scene_ids[5], title="Edited after the Plex token changed")
    for task in ("Process Queue", "Health Check", "Queue Status"):
        tb.run_task(task)
    tb.plex.rotate_token(tb.token)
    tb.stash.expire_sessions()
    for task in ("Queue Status", "Health Check", "Process Queue"):
        tb.run_task(task)
    tb.stop_drainers()

    logged = _everything_logged(tb)
    assert "401" in logged or "token" in logged.lower(), "the token failure was never reported"
    assert tb.leaks() == []


def test_obfuscated_paths_never_appear_in_logs(make_testbed):
    tb = make_testbed(scenes=10, in_plex=False, settings={"obfuscate_paths": True, "debug_logging": True,
                                                          "not_found_max_attempts": 1})
    for sid in tb.scene_ids[5:]:
        tb.plex.add_movie(tb.section, tb.plex_path(sid))
    # Five scenes are not in Plex: their failures name the files they looked for.
    result = tb.run_task("Sync All Scenes")
    assert result.error is None, result.error
    for task in ("Review Dead Letters", "Health Check", "Queue Status"):
        tb.run_task(task)
    tb.stop_drainers()
    logged = _everything_logged(tb)
    assert "not in Plex" in logged or "not found" in logged.lower()
    for sid in tb.scene_ids:
        for path in (tb.stash_path(sid), tb.plex_path(sid)):
            folder = os.path.dirname(path)
            assert folder not in logged, f"{folder} shown although obfuscate_paths is on"
    assert re.search(re.escape(PLEX_PREFIX) + "|" + re.escape(STASH_PREFIX), logged) is None
