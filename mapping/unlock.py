"""What a scene deleted in Stash gives back to Plex: the locks Stash2Plex set on its items.

Every field Stash2Plex writes ends up locked so an agent refresh cannot revert it
(mapping/plan.py). Once the scene is gone from Stash nothing will write those fields
again, so they are unlocked and Plex's agent can take over; their values stay as they
are, and nothing is deleted from Plex. Only what Stash2Plex wrote to the item (its
record in the sync state) is unlocked: a lock the user set on a field Stash2Plex does
not manage stays.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

from mapping.fields import DATE, FIELDS, IMAGE


def owned_locks(written: Mapping[str, Any], poster_hash: Optional[str] = None,
                art_hash: Optional[str] = None) -> List[str]:
    """The Plex fields to unlock on one item, from what was last written to it."""
    uploaded = {"poster": bool(poster_hash), "background": bool(art_hash)}
    fields: List[str] = []
    for row in FIELDS:
        if not row.plex or not (row.name in written or (row.kind == IMAGE and uploaded.get(row.name))):
            continue
        fields.append(row.plex)
        if row.kind == DATE:
            fields.append("year")  # sent, and locked, beside the date (mapping/plan.py)
    return fields
