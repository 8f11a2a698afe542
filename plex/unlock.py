"""Unlock fields of one Plex item, values left as they are: one PUT.

The same request plexapi sends for `editField(name, value, locked=False)` without the
value (and `unlockPoster()`, `unlockArt()`): `PUT /library/sections/{id}/all?type=1&id=RK`
with `<field>.locked=0` per field. Plex keeps every value and only lets its agent
write those fields again on the next refresh.
"""

from __future__ import annotations

from typing import Iterable, Optional

from plexapi import utils
from plexapi.exceptions import NotFound

MOVIE = 1  # plexapi utils.searchType('movie')


def unlock(server, section_id: Optional[str], rating_key: str, fields: Iterable[str]) -> bool:
    """Unlock `fields` on the item; False when Plex no longer has it (nothing to unlock)."""
    params = {"type": MOVIE, "id": str(rating_key)}
    params.update({f"{name}.locked": 0 for name in fields})
    try:
        if not section_id:  # a record older than per-item sections: ask the item (one GET)
            section_id = server.fetchItem(int(rating_key)).librarySectionID
        server.query(f"/library/sections/{section_id}/all{utils.joinArgs(params)}",
                     method=server._session.put)
    except NotFound:
        return False
    return True
