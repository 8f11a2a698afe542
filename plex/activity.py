"""Reading what people did in Plex: each account's play history, in-progress points, ratings.

- Plays: `PlexServer.history(mindate=, accountID=)` (plexapi/server.py) asks
  `GET /status/sessions/history/all?sort=viewedAt:desc&accountID=N&viewedAt>=EPOCH`
  and pages through the answer with X-Plex-Container-Start/Size, so a read since the
  last import costs O(new plays). The bound is inclusive (`>=`), and the importer
  reads a little before its mark on purpose: plays it already has are recognised by key.
- Accounts: `PlexServer.systemAccounts()` (`GET /accounts`); the server owner, whose
  token this is, is local account 1.
- In progress: `/library/sections/{id}/all?inProgress=1` lists the items the token's
  account started and did not finish, with `viewOffset` (ms) and `lastViewedAt`.
- Ratings: `/library/sections/{id}/all?lastRatedAt>>=EPOCH` lists items rated after a
  time, with `userRating` (0-10). viewOffset and userRating are the token owner's own:
  Plex keeps them per account and shows each account only its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, Iterable, List, Optional, Tuple
from urllib.parse import quote

OWNER_ACCOUNT = 1


@dataclass(frozen=True)
class PlexPlay:
    account_id: int
    rating_key: str
    viewed_at: int  # epoch seconds
    title: str


@dataclass(frozen=True)
class ItemActivity:
    rating_key: str
    title: str
    view_offset: Optional[int] = None  # ms
    last_viewed_at: Optional[int] = None
    user_rating: Optional[float] = None
    last_rated_at: Optional[int] = None


def _epoch(obj, name: str) -> Optional[int]:
    """An epoch attribute as Plex sent it (plexapi turns it into a naive local datetime)."""
    raw = getattr(obj, "_data", None)
    if raw is not None and raw.attrib.get(name) not in (None, ""):
        return int(raw.attrib[name])
    value = getattr(obj, name, None)
    return None if value is None else int(value.timestamp())


def account_ids(server, names: Iterable[str]) -> Tuple[Dict[int, str], List[str]]:
    """{account id: name} for the owner and the named accounts; names Plex does not know."""
    wanted = [n for n in names if n]
    found: Dict[int, str] = {OWNER_ACCOUNT: "owner"}
    if not wanted:
        return found, []
    by_name = {(a.name or "").casefold(): a.id for a in server.systemAccounts() if a.id}
    unknown = []
    for name in wanted:
        account = by_name.get(name.casefold())
        if account is None:
            unknown.append(name)
        else:
            found[account] = name
    return found, unknown


def plays_since(server, account_id: int, since: Optional[int]) -> List[PlexPlay]:
    """The account's plays viewed at or after `since` (all of them when None), oldest first."""
    mindate = datetime.fromtimestamp(since, timezone.utc) if since else None
    plays = []
    for entry in server.history(mindate=mindate, accountID=account_id):
        viewed = _epoch(entry, "viewedAt")
        if viewed is None or entry.ratingKey is None:
            continue
        plays.append(PlexPlay(int(entry.accountID or account_id), str(entry.ratingKey), viewed, entry.title or ""))
    return sorted(plays, key=lambda p: (p.viewed_at, p.rating_key))


def _listing(server, section_ids: Iterable[str], condition: str) -> List[ItemActivity]:
    found = []
    for section_id in section_ids:
        for item in server.fetchItems(f"/library/sections/{section_id}/all?type=1&{condition}"):
            found.append(ItemActivity(
                str(item.ratingKey), item.title or "", getattr(item, "viewOffset", None) or None,
                _epoch(item, "lastViewedAt"), getattr(item, "userRating", None), _epoch(item, "lastRatedAt")))
    return found


def in_progress(server, section_ids: Iterable[str]) -> List[ItemActivity]:
    return [i for i in _listing(server, section_ids, "inProgress=1") if i.view_offset]


def rated_since(server, section_ids: Iterable[str], since: Optional[int]) -> List[ItemActivity]:
    """Items rated after `since` (every rated item when None)."""
    return _listing(server, section_ids, quote("lastRatedAt>>") + f"={int(since or 0)}")
