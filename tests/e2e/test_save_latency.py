"""A save that meets a running drainer: the hook wakes it, so the edit does not wait for poll_interval.

poll_interval is set to 30 s here and every deadline is far shorter, so the test tells a
woken drainer from a polling one without racing the clock; bench/ measures the real
latency. The drainer lingers idle (drainer_linger_seconds) so the second save meets it.
"""

from __future__ import annotations

from tests.e2e.conftest import wait_until
from tests.support import holds_for

POLL_SECONDS = 30.0
WAKE_DEADLINE = 8.0  # well under POLL_SECONDS, generous for a loaded machine
SLACK = 0.03


def test_a_save_wakes_the_idle_drainer_at_once(plugin_env):
    env = plugin_env
    first, second = env.seed(2)
    env.configure(poll_interval=POLL_SECONDS, drainer_linger_seconds=120)

    env.stash.update_scene(first, title="First save")
    wait_until(lambda: env.plex_title(first) == "First save", 30, "the cold drainer to sync the first save")
    pid = wait_until(env.live_drainer, 10, "the drainer's heartbeat")
    # Idle now, and it stays: it lingers instead of exiting after a few quiet seconds.
    holds_for(lambda: env.live_drainer() == pid, 4.0, "the same drainer to stay alive while idle")

    env.stash.update_scene(second, title="Second save")
    hook = env.stash.hook_runs[-1].result
    assert hook.output["queued"] is True and hook.output["drainer_started"] is False
    wait_until(lambda: env.plex_title(second) == "Second save", WAKE_DEADLINE,
               "the idle drainer to be woken by the hook (not by its 30 s poll)")
    assert env.live_drainer() == pid, "the edit was synced by the drainer that was already running"
    assert "drainer exiting" not in env.drainer_log()


def _most_in_flight(entries) -> int:
    """The most Plex requests in flight at one moment.

    The log's duration runs from the moment the emulator read the request, a little
    before its `time`, so each span is cut short by SLACK: a request sent right after
    the answer to the one before is not counted as overlapping it (every request takes 0.1 s here).
    """
    events = []
    for e in entries:
        events += [(e["time"], 1), (e["time"] + e["duration"] - SLACK, -1)]
    most = now = 0
    for _, step in sorted(events, key=lambda ev: (ev[0], ev[1])):
        now += step
        most = max(most, now)
    return most


def test_plex_concurrency_bounds_the_requests_in_flight(plugin_env):
    env = plugin_env
    scene_ids = env.seed(12)
    # A slow household server: requests overlap if sent at once. The plugin works on more
    # scenes at once than it lets requests reach Plex (lanes.py), so every kind counts.
    env.plex.faults.latency(0.1)
    for setting, allowed in ((1, 1), (3, 3)):
        env.configure(plex_concurrency=setting)
        for sid in scene_ids:
            env.stash.update_scene(sid, hooks=False, title=f"Title {setting} {sid}")
        start = len(env.plex.requests)
        env.ok_task("Sync All Scenes")
        sent = env.plex.requests[start:]
        assert sum(e["method"] == "PUT" for e in sent) >= len(scene_ids), "the task sent every edit"
        if setting == 1:  # the first pass uploads the posters too (later ones have the same bytes)
            assert any(e["method"] == "POST" for e in sent), "and the posters, beside the edits"
        most = _most_in_flight(sent)
        assert allowed - 1 <= most <= allowed if allowed > 1 else most == 1, (setting, most)
