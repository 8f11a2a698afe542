"""Stash2Plex.yml, the Settings model, the task handlers and the README must agree."""

import re
import typing
from pathlib import Path

import pytest
import yaml

from validation.settings import INTERNAL_FIELDS, Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "Stash2Plex.yml").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
STASH_TYPES = {bool: "BOOLEAN", str: "STRING", int: "NUMBER", float: "NUMBER"}


def _default_in(description):
    match = re.search(r"Default: ([^.(]*)", description)
    assert match, f"description states no default: {description!r}"
    return match.group(1).strip()


def test_every_setting_has_a_model_field_and_back():
    manifest = set(MANIFEST["settings"])
    model = set(Settings.model_fields) - INTERNAL_FIELDS
    assert manifest == model


@pytest.mark.parametrize("name", sorted(MANIFEST["settings"]))
def test_setting_type_and_stated_default_match_the_model(name):
    spec = MANIFEST["settings"][name]
    field = Settings.model_fields[name]
    stated = _default_in(spec["description"])
    default = field.default
    if typing.get_origin(field.annotation) is typing.Literal:  # a word from a fixed list
        assert spec["type"] == "STRING" and default in typing.get_args(field.annotation)
        assert stated.strip() == default
        return
    assert spec["type"] == STASH_TYPES[field.annotation]
    if field.annotation is bool:
        assert default is False, "booleans must be phrased so that unchecked is the default"
        assert stated.startswith("unchecked")
    elif field.annotation is str:
        assert default == "" and stated.startswith("empty")
    else:
        assert float(stated) == float(default)


def test_every_task_has_a_handler():
    from tasks.dispatch import HANDLERS

    modes = [task["defaultArgs"]["mode"] for task in MANIFEST["tasks"]]
    assert sorted(modes) == sorted(HANDLERS)


def test_task_args_are_strings_as_stash_sends_them():
    for task in MANIFEST["tasks"]:
        for value in task["defaultArgs"].values():
            assert isinstance(value, str)


def test_readme_names_every_setting_and_task():
    for name in MANIFEST["settings"]:
        assert f"`{name}`" in README, f"README does not document setting {name}"
    for task in MANIFEST["tasks"]:
        assert task["name"] in README, f"README does not document task {task['name']}"


def test_repository_holds_no_other_yml():
    """Stash loads every *.yml below its plugins folder as a plugin."""
    stray = [
        p.relative_to(ROOT).as_posix()
        for p in ROOT.rglob("*.yml")
        if p.name != "Stash2Plex.yml" and not {".venv", ".git"} & set(p.parts)
        and p.relative_to(ROOT).parts[0] != "dist"  # scripts/release's output (git-ignored; see README)
    ]
    assert stray == []
