"""Realistic fake movies for load tests and the demo, generated quickly and repeatably.

The mix mirrors what a Stash-fed library looks like: studio folders, performer
names as actors, many tags as genres (more than a listing shows), a few items per
thousand sharing a bare file name such as `scene.mp4` in different folders.
"""
from __future__ import annotations

import random
from typing import Any, Dict, Iterator, Tuple

_ADJECTIVES = ("Midnight", "Golden", "Silent", "Crimson", "Hidden", "Electric", "Velvet",
               "Broken", "Endless", "Wild", "Lost", "Secret", "Burning", "Frozen", "Last",
               "Neon", "Quiet", "Restless", "Distant", "Summer")
_NOUNS = ("Harbor", "Orchard", "Signal", "Avenue", "Garden", "Horizon", "Mirror", "Canyon",
          "Station", "Letter", "Island", "Engine", "Meadow", "Tide", "Lantern", "Circuit",
          "Bridge", "Window", "Parade", "Forest")
_STUDIOS = ("Blue Fern Pictures", "Northlight Studio", "Atlas & Vale", "Paper Moon Media",
            "Kestrel Films", "Harborline", "Studio Ouest", "Red Kite Productions",
            "Lumen Works", "Östlicht Film")
_FIRST = ("Ava", "Mia", "Leo", "Noah", "Zoë", "Liam", "Ivy", "Ezra", "Nora", "Omar", "Sofía",
          "Jonas", "Aiko", "Ravi", "Lena", "Mateo", "Chloé", "Finn", "Yara", "Hugo")
_LAST = ("Hart", "Moreno", "Kovač", "Lind", "Okafor", "Reyes", "Sato", "Brennan", "Duval",
         "Novak", "Quinn", "Rossi", "Weiss", "Ahmed", "Berg", "Castillo", "Ng", "Price",
         "Varga", "Young")
_GENRES = ("Drama", "Comedy", "Outdoor", "Romance", "Documentary", "Behind the Scenes",
           "Interview", "Music", "Travel", "Night", "Beach", "City", "Vintage", "4K",
           "Favorite", "Short", "Series", "Solo", "Duo", "Studio")
_GROUPS = ("Summer Series", "Road Trip", "Anthology Vol. 1", "Anthology Vol. 2",
           "Director's Picks", "Seasons")
_RATINGS = ("NR", "R", "PG-13", "TV-MA")


def movies(n: int, root: str = "/data/movies", seed: int = 7,
           start: int = 0) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Yield (file_path, fields) for `n` movies; the same seed gives the same library."""
    rng = random.Random(seed * 1_000_003 + start)
    root = root.rstrip("/\\") or "/"
    sep = "\\" if "\\" in root else "/"
    for i in range(start, start + n):
        studio = rng.choice(_STUDIOS)
        title = "%s %s" % (rng.choice(_ADJECTIVES), rng.choice(_NOUNS))
        year = rng.randint(1998, 2024)
        date = "%04d-%02d-%02d" % (year, rng.randint(1, 12), rng.randint(1, 28))
        if i % 211 == 5:
            # Same bare name in many folders: the case file-name matching gets wrong.
            path = sep.join((root, studio, "%06d" % i, "scene.mp4"))
        else:
            path = sep.join((root, studio, "%s (%d) %06d.mp4" % (title, year, i)))
        actors = ["%s %s" % (rng.choice(_FIRST), rng.choice(_LAST))
                  for _ in range(rng.randint(1, 5))]
        fields: Dict[str, Any] = {
            "title": "%s #%d" % (title, i),
            "summary": "%s at %s. Scene %d." % (title, studio, i),
            "studio": studio,
            "originallyAvailableAt": date,
            "contentRating": rng.choice(_RATINGS),
            "genres": rng.sample(_GENRES, rng.randint(0, 6)),
            "actors": list(dict.fromkeys(actors)),
            "directors": ["%s %s" % (rng.choice(_FIRST), rng.choice(_LAST))] if i % 3 else [],
            "collections": [rng.choice(_GROUPS)] if i % 7 == 0 else [],
        }
        if i % 4 == 0:
            fields["userRating"] = float(rng.randint(1, 10))
        yield path, fields
