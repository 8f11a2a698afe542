"""Imports run one way: errors ← validation ← mapping ← sync_queue, plex, stash ← worker ← tasks ← plugin.

Checked on the source (every import statement, function-level ones included), so a
cycle or a shortcut shows up here before it shows up as a lazy-import workaround.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = {"errors": 0, "validation": 1, "mapping": 2, "sync_queue": 3, "plex": 3, "stash": 3, "worker": 4, "tasks": 5, "plugin": 6}
HOOK_PATH = ["plugin/main.py", "plugin/hook.py", "plugin/spawn.py", "plugin/protocol.py",
             "plugin/stashlog.py", "plugin/datadir.py", "sync_queue/drops.py", "sync_queue/lock_probe.py",
             "sync_queue/missed.py", "sync_queue/storage.py"]
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


def _imports_with_ids(path):
    """Plain imports, each with whether it sits in an `if os.name …` / `if sys.platform …` branch."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and any(key in ast.unparse(node.test) for key in ("os.name", "sys.platform")):
            for branch in node.body + node.orelse:
                guarded.update(id(n) for n in ast.walk(branch))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, id(node) in guarded


def test_no_posix_only_module_imported_unconditionally():
    """A POSIX-only module may be imported only in a branch taken on POSIX alone."""
    seen_guarded = 0
    for package, path in _package_files():
        for _, name, guarded in _imports_with_ids(path):
            if name.split(".")[0] in POSIX_ONLY:
                assert guarded, f"{path.relative_to(ROOT)} imports {name} outside a platform check"
                seen_guarded += 1
        for node, name in _imports(path):
            if isinstance(node, ast.ImportFrom):
                assert name.split(".")[0] not in POSIX_ONLY, f"{path.relative_to(ROOT)} imports {name}"
    assert seen_guarded >= 1  # the hook's lock probe (sync_queue/inbox.py)


def test_hook_path_modules_import_only_the_standard_library_at_top_level():
    allowed_local = {"plugin", "sync_queue"}
    stdlib = {"json", "os", "sys", "sqlite3", "time", "errno", "__future__"}  # errno is built in: free
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


# -- rooms of a readable size ----------------------------------------------------------

MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 40


def test_no_product_file_is_longer_than_a_reader_holds():
    long = {str(path.relative_to(ROOT)): n for _, path in _package_files()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES}
    assert not long, f"files over {MAX_FILE_LINES} lines: {long}"


def test_no_product_function_is_longer_than_a_screen():
    long = {}
    for _, path in _package_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


# -- one owner per table ---------------------------------------------------------------

TABLE_OWNER = {  # table → the one module that creates and migrates it
    "meta": "sync_queue/inbox.py",
    "inbox": "sync_queue/inbox.py",
    "drainer": "sync_queue/inbox.py",
    "retry_schedule": "sync_queue/retry_schedule.py",
    "dead_letters": "sync_queue/dead_letters.py",
    "sync_state": "sync_queue/sync_state.py",
    "sync_items": "sync_queue/sync_state.py",
    "breaker": "worker/breaker.py",
    "outages": "worker/breaker.py",
    "plex_index": "plex/index_table.py",
    "plex_index_sections": "plex/index_table.py",
    "filter_skips": "sync_queue/filter_skips.py",
    "collection_art": "sync_queue/collection_art.py",
    "imported_plays": "sync_queue/activity_log.py",
    "activity_marks": "sync_queue/activity_log.py",
}

_DDL = re.compile(
    r"\b(?:CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)(?:\s+ON\s+(\w+))?"
    r"|ALTER\s+TABLE\s+(\w+)|DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(\w+))",
    re.IGNORECASE,
)


def _string_constants(path):
    """Every string literal of a module, adjacent literals joined (how DDL is written here)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def _tables_defined(path):
    for text in _string_constants(path):
        for match in _DDL.finditer(text):
            name, on_table, altered, dropped = match.groups()
            if on_table:
                yield on_table  # an index belongs to its table's owner
            else:
                yield name or altered or dropped


def test_each_table_has_one_owner_that_writes_its_ddl():
    """No module but a table's owner creates, alters or drops it, or indexes it."""
    found = {}
    for _, path in _package_files():
        for table in set(_tables_defined(path)):
            found.setdefault(table.lower(), set()).add(path.relative_to(ROOT).as_posix())
    assert found == {table: {owner} for table, owner in TABLE_OWNER.items()}


def test_the_database_module_writes_no_table_of_its_own():
    """sync_queue/db.py opens, sets pragmas and runs the owners' migrations; nothing else."""
    assert not set(_tables_defined(ROOT / "sync_queue" / "db.py"))
