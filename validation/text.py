"""Text cleaning for values sent to Plex.

Stash stores whatever a scraper or a user typed: control characters pasted from web
pages, Windows line endings, lone UTF-16 surrogates from badly decoded JSON, and
details running to megabytes. Plex receives edits as URL query parameters, so a
value must be valid UTF-8 and of modest length. Typographic characters (curly
quotes, dashes, emoji with their joiners) are kept: they are text, not noise.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, List

ELLIPSIS = "\u2026"

# C0 and C1 controls except tab and newline, DEL, the BOM, and the two
# noncharacters U+FFFE/U+FFFF that XML (Plex's response format) cannot carry.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(value: str, cap: int, single_line: bool = False) -> str:
    """Cleaned, trimmed and capped text; '' stays ''.

    A value longer than `cap` characters is cut at the last whitespace in its final
    tenth (a whole word when there is one) and ends with an ellipsis, so a reader sees
    that Plex holds less than Stash.
    """
    text = _SURROGATE.sub("\ufffd", value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = unicodedata.normalize("NFC", text)
    if single_line:
        text = _SPACES.sub(" ", text.replace("\n", " "))
    else:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
        text = _BLANK_LINES.sub("\n\n", text)
    text = text.strip()
    return cap_text(text, cap)


def cap_text(text: str, cap: int) -> str:
    if len(text) <= cap:
        return text
    cut = text[: cap - 1]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= cap - cap // 10:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def dedupe(names: Iterable[str], limit: int) -> List[str]:
    """Case-insensitive de-duplication keeping the first spelling and the order."""
    out: List[str] = []
    seen = set()
    for name in names:
        key = name.casefold()
        if not name or key in seen:
            continue
        seen.add(key)
        out.append(name)
        if len(out) >= limit:
            break
    return out
