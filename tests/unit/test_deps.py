"""The dependency list agrees with requirements.txt, and a missing package names the fix."""

import re
import sys
from pathlib import Path

from plugin import deps

ROOT = Path(__file__).resolve().parents[2]


def _requirements():
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    found = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, low = re.match(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", line).groups()
            found[name.lower()] = low
    return found


def test_requirements_and_runtime_check_agree():
    listed = {dist.lower(): low for _, dist, low in deps.REQUIREMENTS}
    required = _requirements()
    assert set(listed) == set(required)
    for name, low in listed.items():
        assert [int(p) for p in low.split(".")] == [int(p) for p in required[name].split(".")] + [0] * (
            len(low.split(".")) - len(required[name].split("."))
        )


def test_everything_installed_means_no_message():
    assert deps.missing_dependencies_message("/plugins/Stash2Plex") is None


def test_missing_package_names_the_exact_command(monkeypatch):
    monkeypatch.setattr(deps, "REQUIREMENTS", deps.REQUIREMENTS + [("no_such_module_x", "no-such-dist", "1.0")])
    message = deps.missing_dependencies_message("/plugins/Stash2Plex")
    assert "no-such-dist>=1.0" in message
    assert f'"{sys.executable}" -m pip install -r' in message
    assert "requirements.txt" in message and "PythonDepManager" in message
