"""The Stash emulator serves a plugin's UI files as Stash does (internal/api/routes_plugin.go).

`/plugin/{id}/javascript` and `/css` concatenate the yml's local `ui` files in order; a
URL in the list is not served; `/plugin/{id}/assets/…` maps the yml's `ui.assets`
prefixes to folders inside the plugin and nothing outside; a disabled plugin answers
400 and an unknown one 404.
"""
from __future__ import annotations

import textwrap

import requests

from testbed.stash import StashEmulator

YML = textwrap.dedent("""\
    name: UI Sample
    exec: [python3, "{pluginDir}/ui_sample.py"]
    interface: raw
    ui:
      javascript:
        - one.js
        - https://cdn.example.invalid/external.js
        - two.js
      css:
        - style.css
      assets:
        /img: pictures
    """)


def _plugin(tmp_path):
    folder = tmp_path / "plugins" / "uisample"
    (folder / "pictures").mkdir(parents=True)
    (folder / "UISample.yml").write_text(YML)
    (folder / "ui_sample.py").write_text("print('{}')\n")
    (folder / "one.js").write_text("var one = 1;")
    (folder / "two.js").write_text("var two = 2;")
    (folder / "style.css").write_text(".a { color: red }")
    (folder / "pictures" / "dot.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "secret.txt").write_text("outside the plugin")
    return folder


def test_plugin_ui_files_are_served_from_the_yml(tmp_path):
    folder = _plugin(tmp_path)
    stash = StashEmulator(config_dir=str(tmp_path / "config")).start()
    try:
        plugin_id = stash.register_plugin(str(folder))
        base = f"{stash.url}/plugin/{plugin_id}"
        js = requests.get(base + "/javascript", timeout=10)
        assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
        assert js.text == "var one = 1;\nvar two = 2;\n" and "external" not in js.text
        css = requests.get(base + "/css", timeout=10)
        assert css.headers["Content-Type"].startswith("text/css") and ".a { color: red }" in css.text
        assert requests.get(base + "/assets/img/dot.png", timeout=10).content == b"\x89PNG fake"
        assert requests.get(base + "/assets/img/../../secret.txt", timeout=10).status_code == 404
        assert requests.get(f"{stash.url}/plugin/NoSuchPlugin/javascript", timeout=10).status_code == 404
        page = requests.get(f"{stash.url}/scenes/1", timeout=10).text
        assert f'src="/plugin/{plugin_id}/javascript"' in page and "https://cdn.example.invalid/external.js" in page
        stash.plugins.set_enabled(plugin_id, False)
        assert requests.get(base + "/javascript", timeout=10).status_code == 400
    finally:
        stash.stop()
