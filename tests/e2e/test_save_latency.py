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
