"""The lowest-versions test leg pins exactly the floors requirements.txt promises."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lines(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def test_constraints_lowest_pins_every_floor_of_requirements():
    floors = {}
    for line in _lines("requirements.txt"):
        name, low = re.match(r"^([A-Za-z0-9_.-]+)\s*>=\s*([0-9][^,<\s]*)", line).groups()
        floors[_canonical(name)] = low
    pins = {}
    for line in _lines("constraints-lowest.txt"):
        name, version = re.match(r"^([A-Za-z0-9_.-]+)==([^\s]+)$", line).groups()
        pins[_canonical(name)] = version
    assert set(pins) == set(floors)
    for name, low in floors.items():
        # ">=8" promises 8.0.0: the pin may spell out the zeros the floor leaves off.
        assert pins[name].split(".")[: len(low.split("."))] == low.split("."), (name, low, pins[name])
        assert set(pins[name].split(".")[len(low.split(".")):]) <= {"0"}, (name, low, pins[name])
