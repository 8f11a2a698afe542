"""Play history and local accounts, as PMS keeps them.

A finished play (a client's scrobble, or `markPlayed`) adds one entry to the
account's history with the time it was viewed; playback progress sets the item's
`viewOffset` (ms) until the item is finished. `GET /status/sessions/history/all` lists
the entries (plexapi `PlexServer.history`: `sort=viewedAt:desc`, `accountID`,
`metadataItemID`, `librarySectionID`, `viewedAt>=EPOCH`, paged with
X-Plex-Container-Start/Size); each is a `<Video>` with `historyKey`, `ratingKey`,
`viewedAt`, `accountID` and `deviceID` (plexapi/base.py PlexHistory._loadData).
`GET /accounts` lists the server's local accounts: id 0 is the system account with no
name, id 1 the owner (plexapi/server.py SystemAccount).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from testbed.plex import xml
from testbed.plex.query import QueryError

OWNER_ID = 1


@dataclass
class Play:
    history_id: int
    rating_key: int
    section_id: int
    title: str
    viewed_at: int
    account_id: int
    device_id: int


class History:
    """Plays and accounts; the store's lock guards them (callers hold it)."""

    def __init__(self, owner_name: str = "owner") -> None:
        self.accounts: Dict[int, str] = {0: "", OWNER_ID: owner_name}
        self.plays: List[Play] = []

    def add_account(self, name: str) -> int:
        account_id = max(self.accounts) + 1
        self.accounts[account_id] = name
        return account_id

    def add(self, rating_key: int, section_id: int, title: str, viewed_at: int,
            account_id: int = OWNER_ID, device_id: int = 1) -> int:
        if account_id not in self.accounts:
            raise KeyError("no account %r" % account_id)
        play = Play(len(self.plays) + 1, rating_key, section_id, title, int(viewed_at),
                    int(account_id), int(device_id))
        self.plays.append(play)
        return play.history_id

    def select(self, pairs: Sequence[Tuple[str, str]]) -> List[Play]:
        """The entries a history request asks for, in its order."""
        found = list(self.plays)
        descending = True
        for key, value in pairs:
            if key == "accountID":
                found = [p for p in found if p.account_id == _int(key, value)]
            elif key == "metadataItemID":
                found = [p for p in found if p.rating_key == _int(key, value)]
            elif key == "librarySectionID":
                found = [p for p in found if p.section_id == _int(key, value)]
            elif key in ("viewedAt>", "viewedAt>>"):
                # plexapi sends `viewedAt>=EPOCH` (the name ends in '>'): inclusive.
                low = _int(key, value) + (1 if key.endswith(">>") else 0)
                found = [p for p in found if p.viewed_at >= low]
            elif key in ("viewedAt<", "viewedAt<<"):
                high = _int(key, value) - (1 if key.endswith("<<") else 0)
                found = [p for p in found if p.viewed_at <= high]
            elif key == "sort":
                name, _, direction = value.partition(":")
                if name != "viewedAt":
                    raise QueryError("unknown history sort %r" % value)
                descending = direction == "desc"
        found.sort(key=lambda p: (p.viewed_at, p.history_id), reverse=descending)
        return found

    def render(self, page: List[Play], total: int, offset: int) -> bytes:
        body = "".join("<Video%s/>\n" % xml.attrs([
            ("historyKey", "/status/sessions/history/%d" % p.history_id),
            ("key", "/library/metadata/%d" % p.rating_key), ("ratingKey", p.rating_key),
            ("librarySectionID", p.section_id), ("title", p.title), ("type", "movie"),
            ("viewedAt", p.viewed_at), ("accountID", p.account_id),
            ("deviceID", p.device_id)]) for p in page)
        return xml.container([("size", len(page)), ("totalSize", total), ("offset", offset)], body)

    def render_accounts(self) -> bytes:
        body = "".join("<Account%s/>\n" % xml.attrs([
            ("id", i), ("key", "/accounts/%d" % i), ("name", name),
            ("defaultAudioLanguage", "en"), ("autoSelectAudio", 1),
            ("defaultSubtitleLanguage", "en"), ("subtitleMode", 0), ("thumb", "")])
            for i, name in sorted(self.accounts.items()))
        return xml.container([("size", len(self.accounts)),
                              ("identifier", "com.plexapp.system.accounts")], body)


def _int(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise QueryError("%s needs an integer, got %r" % (key, value)) from None
