"""The `title_template` setting: parsed once, rendered for every scene.

A template is text with placeholders, `{studio} - {title} ({date})`. `{{` and `}}`
write a literal brace. Rendering drops what an empty value leaves behind, by three
rules (docs/decisions.md, "Title templates collapse"):

1. Round or square brackets that enclose placeholders belong to them: the brackets
   and everything inside vanish when every placeholder inside is empty. Brackets
   around plain text, or without a partner, are plain text.
2. The text between two parts (a placeholder, or such brackets) is a separator: it
   appears only between two parts that have text. When parts between them are empty,
   the separator right before the next part with text is the one kept.
3. Text before the first part and after the last appears when any part has text.

Whitespace runs become one space. A render without text is '' (the caller then uses
the plain title). Values are inserted as they are: brackets inside a studio name
are text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Mapping, Optional, Tuple, Union

PLACEHOLDERS = ("title", "studio", "date", "year", "code", "performers", "director")
_PAIRS = {"(": ")", "[": "]"}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class _Slot:
    name: str


@dataclass(frozen=True)
class _Group:
    opening: str
    closing: str
    body: Tuple["_Node", ...]


_Node = Union[str, _Slot, _Group]
# A token: a literal character, a placeholder, or a bracket that may pair up.
_Token = Union[str, _Slot, Tuple[str, str]]


class TitleTemplate(str):
    """The text as saved, plus its parsed parts; building one raises ValueError naming the problem."""

    nodes: Tuple[_Node, ...]
    names: FrozenSet[str]

    def __new__(cls, text: str = "") -> "TitleTemplate":
        tokens = _tokens(text or "")
        nodes = tuple(_build(tokens, _pairs(tokens), 0, len(tokens)))
        value = super().__new__(cls, text or "")
        value.__dict__.update(nodes=nodes, names=frozenset(t.name for t in tokens if isinstance(t, _Slot)))
        return value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a TitleTemplate cannot change; parse a new one")

    def __repr__(self) -> str:
        return f"TitleTemplate({str.__repr__(self)})"

    def render(self, values: Mapping[str, str]) -> str:
        """The title for these placeholder values ('' when nothing has text)."""
        return _SPACES.sub(" ", _render(self.nodes, values)).strip()


def _tokens(text: str) -> List[_Token]:
    """Characters, placeholders and brackets; ValueError for a brace that does not pair up."""
    tokens: List[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if text.startswith("{{", i) or text.startswith("}}", i):
            tokens.append(char)
            i += 2
            continue
        if char == "}":
            raise ValueError(f"title_template has a '}}' at position {i + 1} without its '{{' "
                             f"(write }}}} for a literal brace)")
        if char == "{":
            end = text.find("}", i)
            if end < 0 or "{" in text[i + 1:end]:
                raise ValueError(f"title_template has a '{{' at position {i + 1} that is never closed "
                                 f"(write {{{{ for a literal brace)")
            tokens.append(_Slot(_placeholder(text[i + 1:end])))
            i = end + 1
            continue
        tokens.append(("bracket", char) if char in "()[]" else char)
        i += 1
    return tokens


def _placeholder(raw: str) -> str:
    name = raw.strip().casefold()
    if not name:
        raise ValueError("title_template has an empty placeholder {}")
    if name not in PLACEHOLDERS:
        known = ", ".join("{%s}" % p for p in PLACEHOLDERS[:-1]) + " or {%s}" % PLACEHOLDERS[-1]
        raise ValueError(f"title_template has an unknown placeholder {{{raw}}}; use {known}")
    return name


def _pairs(tokens: List[_Token]) -> Dict[int, int]:
    """Opening bracket index → its closing bracket's index, for brackets that pair up."""
    pairs: Dict[int, int] = {}
    stack: List[int] = []
    for i, token in enumerate(tokens):
        if not isinstance(token, tuple):
            continue
        char = token[1]
        if char in _PAIRS:
            stack.append(i)
        elif stack and _PAIRS[tokens[stack[-1]][1]] == char:  # type: ignore[index]
            pairs[stack.pop()] = i
    return pairs


def _build(tokens: List[_Token], pairs: Dict[int, int], start: int, end: int) -> List[_Node]:
    """Nodes for tokens[start:end]: brackets that enclose a placeholder become groups."""
    nodes: List[_Node] = []
    i = start
    while i < end:
        token = tokens[i]
        close: Optional[int] = pairs.get(i) if isinstance(token, tuple) else None
        if close is not None and any(isinstance(t, _Slot) for t in tokens[i + 1:close]):
            body = tuple(_build(tokens, pairs, i + 1, close))
            nodes.append(_Group(token[1], _PAIRS[token[1]], body))  # type: ignore[index]
            i = close + 1
            continue
        text = token[1] if isinstance(token, tuple) else token
        if isinstance(text, str) and nodes and isinstance(nodes[-1], str):
            nodes[-1] += text
        else:
            nodes.append(text)
        i += 1
    return nodes


def _render(nodes: Tuple[_Node, ...], values: Mapping[str, str]) -> str:
    """Rules 2 and 3 over one level; a group renders its body, then its brackets."""
    out = ""
    separator = ""  # the literal text since the last part
    prefix: Optional[str] = None  # the text before the first part, until a part is met
    shown = False
    for node in nodes:
        if isinstance(node, str):
            separator += node
            continue
        if prefix is None:
            prefix, separator = separator, ""
        text = _part(node, values)
        if text:
            out += (separator if shown else "") + text
            shown = True
        separator = ""
    if not shown:
        return ""
    return (prefix or "") + out + separator


def _part(node: Union[_Slot, _Group], values: Mapping[str, str]) -> str:
    if isinstance(node, _Slot):
        return (values.get(node.name) or "").strip()
    inner = _render(node.body, values)
    return f"{node.opening}{inner}{node.closing}" if inner.strip() else ""
