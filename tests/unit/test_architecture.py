"""Imports run one way: validation ← sync_queue, plex, stash ← worker ← tasks ← plugin.

Checked on the source (every import statement, function-level ones included), so a
cycle or a shortcut shows up here before it shows up as a lazy-import workaround.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = {"validation": 0, "sync_queue": 1, "plex": 1, "stash": 1, "worker": 2, "tasks": 3, "plugin": 4}
HOOK_PATH = ["plugin/main.py", "plugin/hook.py", "plugin/spawn.py", "plugin/protocol.py",
             "plugin/stashlog.py", "plugin/datadir.py", "sync_queue/inbox.py"]
POSIX_ONLY = {"fcntl", "termios", "resource", "pwd", "grp", "posix"}


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node, node.module


def _package_files():
    for package in LAYER:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


@pytest.mark.parametrize("package, path", list(_package_files()), ids=lambda v: getattr(v, "name", v))
def test_imports_follow_the_layers(package, path):
    for _, name in _imports(path):
        top = name.split(".")[0]
        if top in LAYER and top != package:
            assert LAYER[top] < LAYER[package], f"{path.relative_to(ROOT)} imports {name}"


def test_no_posix_only_module_anywhere_in_the_plugin():
    for package, path in _package_files():
        for _, name in _imports(path):
            assert name.split(".")[0] not in POSIX_ONLY, f"{path.relative_to(ROOT)} imports {name}"


def test_hook_path_modules_import_only_the_standard_library_at_top_level():
    allowed_local = {"plugin", "sync_queue"}
    stdlib = {"json", "os", "sys", "sqlite3", "time", "__future__"}
    for rel in HOOK_PATH:
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        for node in tree.body:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top in stdlib or top in allowed_local, f"{rel} imports {name} at module level"
