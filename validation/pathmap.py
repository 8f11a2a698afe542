"""Stash file path → Plex file path, and the key the path index is stored under.

Stash and Plex often see one file under different prefixes: Docker volume mounts, a
NAS share mounted at different places, or a Windows machine (``C:\\Videos``,
``\\\\nas\\share``) on one side and Linux on the other. The user lists the prefixes
in the ``path_map`` setting as ``stash_prefix => plex_prefix`` rules separated by
``;`` (or newlines). The longest matching prefix wins, prefixes match only on whole
path components, and Windows paths compare case-insensitively because Windows file
systems are case-insensitive.
"""

from __future__ import annotations

import re
import unicodedata
from typing import List, Sequence, Tuple

Rule = Tuple[str, str]

_DRIVE = re.compile(r"^[A-Za-z]:(?:[\\/]|$)")
_RULE_SEP = re.compile(r"[;\n]")


def is_windows_path(path: str) -> bool:
    """A drive path (``C:\\x``) or a UNC path (``\\\\server\\share``)."""
    return bool(_DRIVE.match(path)) or path.startswith("\\\\") or path.startswith("//")


def _uses_backslash(prefix: str) -> bool:
    """Whether paths under this prefix should be written with ``\\``."""
    if is_windows_path(prefix):
        return "/" not in prefix[2:] or "\\" in prefix
    return "\\" in prefix and "/" not in prefix


def _slashes(path: str) -> str:
    """Forward slashes, no repeats (a UNC path keeps its leading pair), no trailing one."""
    unc = path.startswith("\\\\") or path.startswith("//")
    body = re.sub(r"/{2,}", "/", path.replace("\\", "/"))
    if unc:
        body = "/" + body if not body.startswith("//") else body
    if len(body) > 1 and body.endswith("/") and not re.fullmatch(r"[A-Za-z]:/", body):
        body = body.rstrip("/")
    return body


def parse_path_map(text: str) -> List[Rule]:
    """Parse ``a => b; c => d`` into rules, longest source prefix first.

    Raises ValueError naming the bad rule, so the settings page can show it.
    """
    rules: List[Rule] = []
    seen = set()
    for raw in _RULE_SEP.split(text or ""):
        part = raw.strip()
        if not part:
            continue
        if part.count("=>") != 1:
            raise ValueError(
                f"path_map rule {part!r} must look like 'stash_prefix => plex_prefix' "
                "(one '=>' per rule, rules separated by ';')"
            )
        src, dst = (side.strip() for side in part.split("=>"))
        if not src or not dst:
            raise ValueError(f"path_map rule {part!r} has an empty side; both prefixes are needed")
        key = _compare_form(src)
        if key in seen:
            raise ValueError(f"path_map lists the Stash prefix {src!r} twice")
        seen.add(key)
        rules.append((src, dst))
    rules.sort(key=lambda rule: len(_slashes(rule[0])), reverse=True)
    return rules


def _compare_form(path: str) -> str:
    norm = _slashes(unicodedata.normalize("NFC", path))
    return norm.casefold() if is_windows_path(path) else norm


def _components(path: str) -> List[str]:
    norm = _slashes(unicodedata.normalize("NFC", path))
    parts = norm.split("/")
    if len(parts) > 1 and parts[-1] == "":  # a root such as "/" or "C:/"
        parts.pop()
    return parts


def _remainder(path: str, prefix: str):
    """The part of `path` below `prefix` ('' when equal), or None when not under it.

    Compared component by component, so ``/data`` never matches ``/database``.
    """
    have, want = _components(path), _components(prefix)
    if len(have) < len(want):
        return None
    fold = is_windows_path(path) and is_windows_path(prefix)
    for a, b in zip(have, want):
        if (a.casefold() != b.casefold()) if fold else (a != b):
            return None
    return "/".join(have[len(want):])


def _join(prefix: str, remainder: str) -> str:
    if not remainder:
        return prefix
    sep = "\\" if _uses_backslash(prefix) else "/"
    parts = remainder.split("/")
    if prefix.endswith(("/", "\\")):
        return prefix + sep.join(parts)
    return prefix + sep + sep.join(parts)


def map_path(path: str, rules: Sequence[Rule]) -> str:
    """Rewrite a Stash path with the first (longest) matching rule; unchanged otherwise."""
    for src, dst in rules:
        rest = _remainder(path, src)
        if rest is not None:
            return _join(dst, rest)
    return path


def reverse_rules(rules: Sequence[Rule]) -> List[Rule]:
    """The same rules from Plex back to Stash (for messages that name a Stash path)."""
    flipped = [(dst, src) for src, dst in rules]
    flipped.sort(key=lambda rule: len(_slashes(rule[0])), reverse=True)
    return flipped


def path_key(plex_path: str) -> str:
    """The form the path index stores and looks up; one function for both sides.

    Separators become ``/``, Unicode is NFC (macOS file systems hand out NFD names),
    and Windows paths are casefolded because Plex on Windows treats ``A.mp4`` and
    ``a.mp4`` as one file.
    """
    return _compare_form(plex_path)


def parent_folder(path: str) -> str:
    """The folder holding a file, in the path's own separator style."""
    cut = max(path.rfind("/"), path.rfind("\\"))
    if cut <= 0:
        return path[:1] if cut == 0 else path
    folder = path[:cut]
    if re.fullmatch(r"[A-Za-z]:", folder):
        return folder + path[cut]
    return folder


class PathMap(str):
    """The `path_map` setting parsed once: the text as saved, plus its rules.

    A str, so wherever the settings are shown or dumped (the settings fingerprint)
    the text Stash sent is what appears; `to_plex` for matching, `to_stash` for
    messages. Building one raises ValueError naming the bad rule; it cannot change.
    """

    rules: Tuple[Rule, ...]
    _back: Tuple[Rule, ...]

    def __new__(cls, text: str = "") -> "PathMap":
        rules = tuple(parse_path_map(text))
        value = super().__new__(cls, text or "")
        value.__dict__.update(rules=rules, _back=tuple(reverse_rules(rules)))
        return value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a PathMap cannot change; parse a new one")

    def __repr__(self) -> str:
        return f"PathMap({str.__repr__(self)})"

    def to_plex(self, stash_path: str) -> str:
        return map_path(stash_path, self.rules)

    def to_stash(self, plex_path: str) -> str:
        return map_path(plex_path, self._back)
