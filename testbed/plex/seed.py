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
    rand = rng.random

    def pick(seq):
        # random.choice is several times slower; this is a seeding hot loop.
        return seq[int(rand() * len(seq))]

    root = root.rstrip("/\\") or "/"
    sep = "\\" if "\\" in root else "/"
    for i in range(start, start + n):
        studio = pick(_STUDIOS)
        title = "%s %s" % (pick(_ADJECTIVES), pick(_NOUNS))
        year = 1998 + int(rand() * 27)
        date = "%04d-%02d-%02d" % (year, 1 + int(rand() * 12), 1 + int(rand() * 28))
        if i % 211 == 5:
            # Same bare name in many folders: the case file-name matching gets wrong.
            path = sep.join((root, studio, "%06d" % i, "scene.mp4"))
        else:
            path = sep.join((root, studio, "%s (%d) %06d.mp4" % (title, year, i)))
        actors = ["%s %s" % (pick(_FIRST), pick(_LAST))
                  for _ in range(1 + int(rand() * 5))]
        fields: Dict[str, Any] = {
            "title": "%s #%d" % (title, i),
            "summary": "%s at %s. Scene %d." % (title, studio, i),
            "studio": studio,
            "originallyAvailableAt": date,
            "contentRating": pick(_RATINGS),
            "genres": list(dict.fromkeys(pick(_GENRES) for _ in range(int(rand() * 7)))),
            "actors": list(dict.fromkeys(actors)),
            "directors": ["%s %s" % (pick(_FIRST), pick(_LAST))] if i % 3 else [],
            "collections": [pick(_GROUPS)] if i % 7 == 0 else [],
        }
        if i % 4 == 0:
            fields["userRating"] = float(1 + int(rand() * 10))
        yield path, fields
