"""Writing what people did in Plex into Stash: plays, resume points, ratings.

Stash's own vocabulary (graphql/schema/schema.graphql, internal/api/resolver_mutation_scene.go):
- `sceneAddPlay(id, times: [Timestamp!])` adds one play per time to the scene's play
  history, keeping duplicates (viewHistoryTable.addDates); `play_count` and
  `last_played_at` follow from that history. No hook fires and `updated_at` stays.
- `sceneSaveActivity(id, resume_time, playDuration)` sets `resume_time` (seconds);
  `playDuration` would be ADDED to `play_duration`, so it is never sent here.
- `sceneUpdate(input: {id, rating100})`: an ordinary save, so it fires Stash's hook.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Dict, Iterable, List

from stash.client import _FIND_SCENES, StashReader, rfc3339
from stash.failures import GraphQLError

ACTIVITY_FIELDS = "id rating100 resume_time last_played_at play_history"
IDS_PER_REQUEST = 500


def epoch_of(text: str) -> float:
    """A Stash Time (RFC 3339) as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class StashActivity:
    """Play history, resume time and rating of scenes, read and written through one reader."""

    def __init__(self, reader: StashReader):
        self.reader = reader

    def scenes(self, ids: Iterable[int]) -> Dict[int, dict]:
        """{scene id: {rating100, resume_time, last_played_at, plays (epoch seconds)}}; absent: deleted."""
        wanted = sorted({int(i) for i in ids})
        found: Dict[int, dict] = {}
        for start in range(0, len(wanted), IDS_PER_REQUEST):
            chunk = wanted[start:start + IDS_PER_REQUEST]
            while chunk:
                try:
                    data = self.reader._call(_FIND_SCENES % ACTIVITY_FIELDS, {
                        "filter": {"per_page": -1}, "scene_filter": {}, "scene_ids": chunk})
                except GraphQLError as exc:
                    missing = {i for i in chunk if f"scene with id {i} not found" in str(exc)}
                    if not missing:
                        raise
                    chunk = [i for i in chunk if i not in missing]
                    continue
                for scene in data["findScenes"]["scenes"]:
                    scene["plays"] = [epoch_of(t) for t in scene.get("play_history") or []]
                    found[int(scene["id"])] = scene
                break
        return found

    def add_plays(self, scene_id: int, times: List[int]) -> int:
        """One Stash play per Plex viewedAt (epoch s); returns the scene's play count after."""
        stamps = [rfc3339(datetime.fromtimestamp(t, timezone.utc)) for t in times]
        data = self.reader._call(
            "mutation Stash2PlexAddPlay($id: ID!, $times: [Timestamp!]) {"
            " sceneAddPlay(id: $id, times: $times) { count } }",
            {"id": str(scene_id), "times": stamps})
        return int(data["sceneAddPlay"]["count"])

    def save_resume(self, scene_id: int, seconds: float) -> None:
        self.reader._call(
            "mutation Stash2PlexResume($id: ID!, $t: Float) { sceneSaveActivity(id: $id, resume_time: $t) }",
            {"id": str(scene_id), "t": float(seconds)})

    def set_rating(self, scene_id: int, rating100: int) -> None:
        self.reader._call(
            "mutation Stash2PlexRate($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }",
            {"input": {"id": str(scene_id), "rating100": int(rating100)}})
