"""Run the Stash emulator as a process (demo, benchmarks, manual poking).

    python -m testbed.stash --port 0 --seed 500 [--path-prefix /data/stash] [--auth]

The first stdout line is the base URL (http://127.0.0.1:PORT); the second is a JSON
object with the session cookie, the API key and the server_connection a plugin would
get. It listens on loopback only and exits cleanly on SIGTERM or SIGINT.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional

from testbed.serve import serve_until_signalled
from testbed.stash.emulator import StashEmulator


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m testbed.stash", description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--seed", type=int, default=0, metavar="N", help="scenes to create")
    ap.add_argument("--rng-seed", type=int, default=0)
    ap.add_argument("--path-prefix", default="/data/stash")
    ap.add_argument("--auth", action="store_true", help="require the session cookie or ApiKey")
    ap.add_argument("--settings-file", help="load and save plugin settings (JSON) here")
    ap.add_argument("--plugin", action="append", default=[], metavar="DIR",
                    help="register a plugin directory so its hooks fire (repeatable)")
    ap.add_argument("--python", default=sys.executable, help="interpreter for plugin runs")
    ap.add_argument("--data-dir", help="server_connection Dir for printed connection")
    return ap.parse_args(argv)


def _load_settings(path: Optional[str]) -> Dict[str, Any]:
    if not path or not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return data if isinstance(data, dict) else {}


def _saver(path: Optional[str]):
    if not path:
        return None

    def save(config: Dict[str, Any]) -> None:
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(config, fh, indent=2, ensure_ascii=False)
        os.replace(tmp, path)

    return save


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    emu = StashEmulator(port=args.port, auth=args.auth,
                        on_settings_changed=_saver(args.settings_file))
    for plugin_id, values in _load_settings(args.settings_file).items():
        if isinstance(values, dict):
            emu.store.configure_plugin(plugin_id, values)
    if args.seed:
        emu.seed(args.seed, rng_seed=args.rng_seed, path_prefix=args.path_prefix)
    for plugin_dir in args.plugin:
        emu.register_plugin(os.path.abspath(plugin_dir), python=args.python)

    def info() -> str:
        details = {"session_cookie": emu.session_cookie, "api_key": emu.api_key,
                   "scenes": len(emu.store.scenes)}
        if args.data_dir:
            details["server_connection"] = emu.server_connection("", args.data_dir)
        return json.dumps(details)

    return serve_until_signalled(emu, [info])

if __name__ == "__main__":
    sys.exit(main())
