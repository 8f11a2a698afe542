"""Plex over https: a certificate problem is a setting to fix, never "Plex is down".

The emulated Plex serves https on a second port with a certificate made for this test
(no trust store knows it, as with the certificate a PMS or a home reverse proxy makes
for itself). The plugin runs as Stash runs it; the environment it inherits may set
REQUESTS_CA_BUNDLE, as many Docker images do.
"""

from __future__ import annotations

from testbed.plex.tls import self_signed_cert
from tests.e2e.conftest import wait_until


def _paused_by_settings(env):
    return "paused" in env.drainer_log()


def test_self_signed_https_is_a_settings_error_until_the_ca_bundle_is_set(plugin_env, tmp_path):
    env = plugin_env
    cert, key = self_signed_cert(str(tmp_path / "tls"))
    https_url = env.plex.serve_tls(cert, key)
    scene_ids = env.seed(2)
    env.configure(plex_url=https_url)

    env.stash.update_scene(scene_ids[0], title="Over TLS")

    wait_until(lambda: _paused_by_settings(env), 30, "the drainer to stop on the certificate")
    status = env.status()
    message = status["last_config_error"]["message"]
    assert "certificate" in message and "plex_ca_bundle" in message, message
    assert "plex_skip_tls_verify" in message, message
    assert status["pending"] == 1 and status["deferred"] == 0 and status["dead_letters"] == 0
    assert status["breaker"] == "closed"  # a setting, not an outage
    assert "plex_ca_bundle" in status["summary"]

    failed = env.task("Process Queue")
    assert failed.error is not None and "plex_ca_bundle" in failed.error, failed.error
    assert env.status()["pending"] == 1
    assert env.plex_title(scene_ids[0]) != "Over TLS"

    env.configure(plex_ca_bundle=cert)
    env.ok_task("Process Queue")
    wait_until(lambda: env.plex_title(scene_ids[0]) == "Over TLS", 30, "the scene to sync over https")
    assert env.status()["last_config_error"] is None


def test_skip_tls_verify_syncs_with_one_warning(plugin_env, tmp_path):
    env = plugin_env
    cert, key = self_signed_cert(str(tmp_path / "tls"))
    https_url = env.plex.serve_tls(cert, key)
    scene_ids = env.seed(3)
    env.configure(plex_url=https_url, plex_skip_tls_verify=True)
    env.queue_directly(scene_ids)

    result = env.task("Process Queue")

    assert result.error is None, result.error
    assert result.output["synced"] == 3
    assert env.in_step(scene_ids)
    warned = [text for text in result.messages("warning") if "verif" in text and "certificate" in text]
    assert len(warned) == 1, result.logs


def test_https_to_a_plain_http_port_says_so(plugin_env):
    env = plugin_env
    scene_ids = env.seed(1)
    env.configure(plex_url=env.plex.url.replace("http://", "https://"))
    env.queue_directly(scene_ids)

    failed = env.task("Process Queue")

    assert failed.error is not None and "plain http" in failed.error, failed.error
    assert env.plex.url in failed.error  # the address that works
    assert env.status()["pending"] == 1

    env.stash.update_scene(scene_ids[0], title="Plain again")
    wait_until(lambda: _paused_by_settings(env), 30, "the drainer to stop on the plain-http port")
    status = env.status()
    assert "plain http" in status["last_config_error"]["message"]
    assert status["breaker"] == "closed"
