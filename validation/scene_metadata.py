"""The desired Plex state of one scene, cleaned, capped and validated.

`PlexMetadata` cleans every text and rejects what cannot be sent, naming the field and
the reason. Where its values come from in Stash, and what Plex does with them, is the
field table's business (mapping/fields.py); this model only checks and shapes them.

Caps (characters): titles, studio names and list entries 255, the summary 4,000. Plex
receives edits as query parameters of a single PUT, and every non-ASCII character
costs up to nine bytes there, so an uncapped summary could push the request past
what the server and proxies in front of it accept.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, FrozenSet, List, Optional

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from validation.text import clean_text, dedupe

NAME_CAP = 255
SUMMARY_CAP = 4000
URL_CAP = 4096
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# The names `managed` may hold; the field table has one row for each
# (tests/unit/test_field_table.py holds the two together).
FIELDS = (
    "title",
    "summary",
    "originally_available_at",
    "studio",
    "actors",
    "genres",
    "collections",
    "directors",
    "user_rating",
    "poster",
    "background",
)


class PlexMetadata(BaseModel):
    """The desired Plex state of one scene; `managed` names the fields we own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    summary: str = ""
    originally_available_at: Optional[date] = None
    studio: str = ""
    actors: List[str] = []
    genres: List[str] = []
    collections: List[str] = []
    directors: List[str] = []
    user_rating: Optional[float] = None
    poster_url: Optional[str] = None
    background_url: Optional[str] = None
    managed: FrozenSet[str] = frozenset(FIELDS)

    @field_validator("title", "studio", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        return clean_text(_as_text(value), NAME_CAP, single_line=True)

    @field_validator("title")
    @classmethod
    def _title_present(cls, value: str) -> str:
        if not value:
            raise ValueError("is empty after cleaning and the scene has no file name to use")
        return value

    @field_validator("summary", mode="before")
    @classmethod
    def _summary(cls, value: Any) -> str:
        return clean_text(_as_text(value), SUMMARY_CAP)

    @field_validator("originally_available_at", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Optional[date]:
        if value in (None, ""):
            return None
        if isinstance(value, date):
            return value
        if not isinstance(value, str):
            raise ValueError(f"must be a YYYY-MM-DD string, got {type(value).__name__}")
        text = value.strip()
        try:
            if not _ISO_DATE.fullmatch(text):
                raise ValueError
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text[:40]!r} is not a calendar date in the form YYYY-MM-DD") from None

    @field_validator("actors", "genres", "collections", "directors", mode="before")
    @classmethod
    def _names(cls, value: Any, info: ValidationInfo) -> List[str]:
        if value is None:
            return []
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"must be a list of names, got {type(value).__name__}")
        names = []
        for i, name in enumerate(value):
            if not isinstance(name, str):
                raise ValueError(f"entry {i} must be a name, got {type(name).__name__}")
            names.append(clean_text(name, NAME_CAP, single_line=True))
        limit = (info.context or {}).get("max_list_items", 100)
        return dedupe(names, limit)

    @field_validator("user_rating", mode="before")
    @classmethod
    def _rating(cls, value: Any) -> Optional[float]:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be a number from 0 to 10, got {value!r}")
        if not 0 <= value <= 10:
            raise ValueError(f"must be from 0 to 10, got {value!r}")
        return round(float(value), 1)

    @field_validator("poster_url", "background_url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> Optional[str]:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, got {str(value)[:80]!r}")
        if len(value) > URL_CAP:
            raise ValueError(f"is longer than {URL_CAP} characters")
        return value


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"must be text, got {type(value).__name__}")
    return value
