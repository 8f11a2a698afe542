"""Seed the emulator with a realistic, reproducible library.

The data is shaped to exercise what breaks syncs in practice: studios with parents,
unicode and multi-line details, titles left empty, identical file names in different
folders, odd characters in paths, a few scenes with very many tags, and created_at /
updated_at spread over years with bursts of same-second updates. Screenshots are
generated lazily when fetched, so seeding stays fast.
"""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Dict, List

from testbed.stash.store import Store

_ADJ = ["Golden", "Quiet", "Neon", "Velvet", "Crimson", "Silver", "Wild", "Lucky", "Hidden",
        "Bright", "Midnight", "Azure", "Électrique", "Stille", "Zoë's", "Ōkami", "Süße"]
_NOUN = ["Harbor", "Studio", "Garden", "Signal", "River", "Theory", "Motel", "Canyon",
         "Archive", "Parade", "Lantern", "Meadow", "Brücke", "Café", "Jardin", "Kōen"]
_FIRST = ["Ava", "Mia", "Lena", "Chloé", "Zoë", "Ingrid", "Sofía", "Aiko", "Nadia",
          "Björk", "Maëlle", "Olga", "Priya", "Renée", "Łucja", "José", "Kai", "Ren"]
_LAST = ["Stone", "Rivers", "Åkesson", "Moreau", "Kowalska", "Tanaka", "Núñez", "Haddad",
         "O'Brien", "Lefèvre", "Schmidt", "Ivanova", "Dubois", "Costa", "Nakamura"]
_TAGS = ["Outdoor", "Indoor", "Interview", "Behind the Scenes", "4K", "Vintage", "Drama",
         "Comedy", "Romance", "Documentary", "Music", "Travel", "Night", "Beach", "City",
         "Kitchen", "Studio Shot", "Handheld", "POV", "Black & White", "Subtitled",
         "Director's Cut", "Short", "Feature", "Série", "日本", "Café Scene", "Rain"]
_WORDS = ("the light fell across the room while somebody laughed outside and a door "
          "closed somewhere down the hall before the music started again").split()
_RES = [(1920, 1080), (1280, 720), (3840, 2160), (854, 480), (2560, 1440)]
ENDPOINT = "https://stashdb.org/graphql"


def _name(rng: random.Random, used: set, parts) -> str:
    for _ in range(50):
        name = " ".join(rng.choice(p) for p in parts)
        if name not in used:
            used.add(name)
            return name
    name = "%s %d" % (" ".join(rng.choice(p) for p in parts), len(used))
    used.add(name)
    return name


def _details(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.15:
        return ""
    lines = []
    for _ in range(rng.randint(1, 4)):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 18))]
        lines.append(" ".join(words).capitalize() + ".")
    if roll > 0.85:
        lines.append("Ünïcödé — “quoted” ‘text’ ✓ 日本語 <b>not html</b> & more")
    return ("\n\n" if rng.random() < 0.5 else "\n").join(lines)


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in " -_" else " " for c in text)
    return "_".join(keep.split()) or "untitled"


def seed(store: Store, n: int, rng_seed: int = 0, path_prefix: str = "/data/stash",
         now: datetime = None, second_file_every: int = 0) -> List[int]:  # type: ignore[assignment]
    """Add n scenes (plus studios, performers, tags, groups); return the scene ids.

    With second_file_every=k, every k-th scene holds two files (a lower-resolution copy
    beside the primary one, which Stash lists first), as a library with duplicates does.
    """
    rng = random.Random(rng_seed)
    now = (now or store.now()).replace(microsecond=0)
    start = now - timedelta(days=3 * 365)
    used: set = set()
    prefix = path_prefix.rstrip("/\\")

    def when(lo: datetime) -> datetime:
        span = max(1, int((now - lo).total_seconds()))
        return lo + timedelta(seconds=rng.randrange(span))

    studios: List[int] = []
    for i in range(max(5, n // 40)):
        parent = rng.choice(studios) if studios and rng.random() < 0.3 else None
        studios.append(store.add_studio(_name(rng, used, (_ADJ, _NOUN)), parent_id=parent,
                                        image=rng.random() < 0.8, created_at=when(start),
                                        url="https://studio%d.example.com" % i))
    performers = [store.add_performer(_name(rng, used, (_FIRST, _LAST)), image=rng.random() < 0.85,
                                      created_at=when(start), gender=rng.choice(
                                          ["FEMALE", "MALE", "FEMALE", None]))
                  for _ in range(max(10, n // 8))]
    tags = [store.add_tag(t, created_at=when(start)) for t in _TAGS]
    for i in range(max(0, min(300, n // 10) - len(_TAGS))):
        tags.append(store.add_tag("%s %s" % (rng.choice(_ADJ), rng.choice(_TAGS)) + " %d" % i,
                                  created_at=when(start)))
    groups = [store.add_group(_name(rng, used, (_ADJ, _NOUN)) + " Collection",
                              studio_id=rng.choice(studios), image=rng.random() < 0.7,
                              created_at=when(start)) for _ in range(max(3, n // 50))]

    basenames: List[str] = []
    burst = when(start)
    ids = []
    for i in range(n):
        created = when(start)
        roll = rng.random()
        if roll < 0.5:
            updated = created
        elif roll < 0.6:
            updated = burst  # many scenes saved in the same second (bulk edits)
        else:
            updated = when(created)
        updated = max(updated, created)
        title = "" if rng.random() < 0.05 else "%s %s %s" % (
            rng.choice(_ADJ), rng.choice(_NOUN), rng.choice(["", "Part 2", "(Remastered)",
                                                             "– Épisode %d" % (i % 9 + 1)]))
        title = title.strip()
        studio = rng.choice(studios) if rng.random() < 0.85 else None
        folder = "%s/%s/%d" % (prefix, _slug(store.studios[studio]["name"]) if studio else "misc",
                               created.year)
        if basenames and rng.random() < 0.03:
            base = rng.choice(basenames)  # same file name, different folder
            folder += "/dupes"
        else:
            base = "%s [%d]%s" % (_slug(title or "clip"), i, rng.choice([".mp4", ".mkv", ".mp4"]))
            basenames.append(base)
        width, height = rng.choice(_RES)
        tag_count = 120 if rng.random() < 0.004 else rng.randint(0, 12)
        fields: Dict[str, object] = {
            "title": title,
            "code": "SC-%05d" % i if rng.random() < 0.3 else "",
            "details": _details(rng),
            "director": "%s %s" % (rng.choice(_FIRST), rng.choice(_LAST)) if rng.random() < 0.2 else "",
            "urls": ["https://example.com/scene/%d" % i] if rng.random() < 0.4 else [],
            "date": (created - timedelta(days=rng.randrange(3000))).strftime("%Y-%m-%d")
            if rng.random() < 0.8 else None,
            "rating100": rng.randrange(1, 101) if rng.random() < 0.6 else None,
            "organized": rng.random() < 0.3,
            "o_counter": rng.choice([0, 0, 0, 1, 2]),
            "play_count": rng.choice([0, 0, 1, 3]),
            "studio_id": studio,
            "performer_ids": rng.sample(performers, min(len(performers), rng.choice([0, 1, 1, 2, 3, 5]))),
            "tag_ids": rng.sample(tags, min(len(tags), tag_count)),
            "groups": [(rng.choice(groups), rng.choice([None, 1, 2, 3]))] if rng.random() < 0.1 else [],
            "stash_ids": [{"endpoint": ENDPOINT, "stash_id": str(uuid.UUID(int=rng.getrandbits(128))),
                           "updated_at": updated}] if rng.random() < 0.3 else [],
        }
        files = ["%s/%s" % (folder, base)]
        if second_file_every and i % second_file_every == second_file_every - 1:
            stem, dot, ext = base.rpartition(".")
            files.append("%s/%s.480p%s%s" % (folder, stem or base, dot, ext))
        ids.append(store.add_scene(
            files=files, created_at=created, updated_at=updated,
            file_info={"width": width, "height": height,
                       "duration": round(rng.uniform(60, 5400), 2),
                       "size": rng.randrange(50_000_000, 8_000_000_000)},
            **fields))
    return ids


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
