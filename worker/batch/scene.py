"""A scene on its way through a batch, and what the batch returns for it.

Every stage of a batch (read, filter, match, plan, apply, record) reads and fills in the same
`BatchScene`; `SyncResult` is what the worker gets back for a scene that reached Plex
(or did not need to), an exception instance is what it gets for one that did not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

from mapping.collection_art import Source
from mapping.scene_fields import PlexMetadata
from sync_queue.sync_state import ItemState, SceneState
from validation.pathmap import path_key

Match = Tuple[str, str]  # (section id, rating key)


@dataclass
class SyncResult:
    scene_id: int
    # "synced" | "unchanged" | "filtered" (the scene filter left it alone: no request)
    # | "forgotten" (gone from Stash: its Plex items unlocked, its sync state dropped)
    status: str
    plex_key: Optional[str] = None
    section_id: Optional[str] = None
    edited: bool = False  # a batched PUT was sent
    rated: bool = False
    uploads: int = 0
    kept: List[str] = field(default_factory=list)  # fields left as edited in Plex
    plex_keys: List[str] = field(default_factory=list)  # every item the scene reached

    @property
    def changed(self) -> bool:
        """False when Plex was sent nothing (what the worker's tally and the breaker read)."""
        if self.status == "forgotten":
            return self.edited  # an unlock was sent (a scene never synced sends nothing)
        return self.status not in ("unchanged", "filtered")


Outcome = Union[SyncResult, Exception]


@dataclass
class BatchScene:
    scene_id: int
    meta: PlexMetadata
    paths: List[str]  # mapped to Plex
    fp: str = ""
    candidates: List[Match] = field(default_factory=list)  # from the index
    targets: List[Match] = field(default_factory=list)  # checked against Plex
    error: Optional[Exception] = None
    state: Optional[SceneState] = None
    sources: List[Source] = field(default_factory=list)  # its collections' groups and studio

    @property
    def keys(self) -> set:
        return {path_key(p) for p in self.paths}

    def item_state(self, target: Match) -> Optional[ItemState]:
        """What was recorded for this Plex item of the scene, if anything."""
        return self.state.items.get(target[1]) if self.state else None
