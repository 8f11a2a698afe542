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

from stash.client import StashReader, rfc3339

ACTIVITY_FIELDS = "id rating100 resume_time last_played_at play_history"


def epoch_of(text: str) -> float:
    """A Stash Time (RFC 3339) as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class StashActivity:
    """Play history, resume time and rating of scenes, read and written through one reader."""

    def __init__(self, reader: StashReader):
        self.reader = reader

    def scenes(self, ids: Iterable[int]) -> Dict[int, dict]:
        """{scene id: {rating100, resume_time, last_played_at, plays (epoch seconds)}}; absent: deleted."""
        found = self.reader.find_scenes(ids, fields=ACTIVITY_FIELDS)
        for scene in found.values():
            scene["plays"] = [epoch_of(t) for t in scene.get("play_history") or []]
        return found

    def add_plays(self, scene_id: int, times: List[int]) -> int:
        """One Stash play per Plex viewedAt (epoch s); returns the scene's play count after."""
        stamps = [rfc3339(datetime.fromtimestamp(t, timezone.utc)) for t in times]
        data = self.reader.call(
            "mutation Stash2PlexAddPlay($id: ID!, $times: [Timestamp!]) {"
            " sceneAddPlay(id: $id, times: $times) { count } }",
            {"id": str(scene_id), "times": stamps})
        return int(data["sceneAddPlay"]["count"])

    def save_resume(self, scene_id: int, seconds: float) -> None:
        self.reader.call(
            "mutation Stash2PlexResume($id: ID!, $t: Float) { sceneSaveActivity(id: $id, resume_time: $t) }",
            {"id": str(scene_id), "t": float(seconds)})

    def set_rating(self, scene_id: int, rating100: int) -> None:
        self.reader.call(
            "mutation Stash2PlexRate($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }",
            {"input": {"id": str(scene_id), "rating100": int(rating100)}})
