"""Collection artwork benchmark: uploads and requests per Sync All, first run and next.

    python -m bench.bench_collections [--scenes 2000] [--groups 40]

Scenes spread over groups (each group has a front cover, every other one a back cover
and a synopsis) and one studio with a logo, synced in batches of 50 by the real
SceneSyncer against the emulators (as threads of this process). Counted from the Plex
emulator's request log: image uploads to collections (the issue's budget: about one per
group on the first run, zero on the next), scene poster uploads, and the collection
listings and edits. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
from typing import Dict, List


from plex import client as plex_client
from plex.tls import PlexSession
from stash.client import StashReader
from testbed.plex import PlexEmulator
from testbed.plex.collections import COLLECTION_KEY_BASE
from testbed.stash import StashEmulator, jpeg
from testbed.world import PATH_MAP, PLEX_PREFIX, SECTION, STASH_PREFIX
from validation.pathmap import PathMap
from validation.settings import Settings
from worker.batch.syncer import SceneSyncer
from worker.database import open_db

TOKEN = "bench-token"
BATCH = 50


def _library(stash: StashEmulator, plex: PlexEmulator, section: int, scenes: int, groups: int) -> List[int]:
    studio = stash.add_studio("Bench Studio", details="The studio's details.")
    stash.set_image("studio", studio, jpeg.placeholder("bench studio logo"))
    group_ids = []
    for g in range(groups):
        gid = stash.add_group("Bench Group %02d" % g, synopsis="Synopsis %d" % g if g % 2 else "")
        stash.set_image("group", gid, jpeg.placeholder("bench group %d front" % g))
        if g % 2:
            stash.set_image("group", gid, jpeg.placeholder("bench group %d back" % g), back=True)
        group_ids.append(gid)
    mapper, ids = PathMap(PATH_MAP), []
    for n in range(scenes):
        path = "%s/bench/%05d.mp4" % (STASH_PREFIX, n)
        sid = stash.add_scene(title="Scene %d" % n, files=[path], studio_id=studio,
                              groups=[(group_ids[n % groups], n // groups + 1)])
        stash.image_bytes("scene", sid)  # encoded before timing, as Stash serves files
        plex.add_movie(section, mapper.to_plex(path))
        ids.append(sid)
    return ids


def _tally(log: List[Dict[str, str]]) -> Dict[str, int]:
    out = {"collection uploads": 0, "scene uploads": 0, "collection listings": 0,
           "collection edits": 0, "all Plex requests": len(log)}
    for e in log:
        path, query = e["path"], e.get("query") or {}
        if e["method"] == "POST" and path.endswith(("/posters", "/arts")):
            rk = int(path.split("/")[3])
            out["collection uploads" if rk >= COLLECTION_KEY_BASE else "scene uploads"] += 1
        elif e["method"] == "GET" and path.endswith("/all") and query.get("type") == "18":
            out["collection listings"] += 1
        elif e["method"] == "PUT" and query.get("type") == "18":
            out["collection edits"] += 1
    return out


def run(scenes: int, groups: int) -> Dict[str, Dict[str, int]]:
    stash, plex = StashEmulator().start(), PlexEmulator(token=TOKEN).start()
    try:
        section = plex.add_section(SECTION, locations=[PLEX_PREFIX])
        ids = _library(stash, plex, section, scenes, groups)
        with tempfile.TemporaryDirectory() as data_dir:
            conn = open_db(data_dir)
            settings = Settings(plex_url=plex.url, plex_token=TOKEN, path_map=PATH_MAP)
            reader = StashReader.from_server_connection(stash.server_connection(data_dir))
            session = PlexSession()  # the drainer's own session class
            syncer = SceneSyncer(settings, reader, lambda: plex_client.connect(settings, conn, session), conn)
            figures = {}
            for name in ("first Sync All", "second Sync All"):
                plex.reset_log()
                stash.clear_requests()
                for start in range(0, len(ids), BATCH):
                    syncer.sync_batch(ids[start:start + BATCH])
                figures[name] = _tally(plex.requests)
                figures[name]["Stash GraphQL requests"] = sum(1 for r in stash.requests if r["path"] == "/graphql")
            conn.close()
        return figures
    finally:
        plex.stop()
        stash.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=40)
    args = parser.parse_args(argv)
    print(f"== collection artwork, {args.scenes} scenes in {args.groups} groups and 1 studio, "
          f"batches of {BATCH}")
    for name, figures in run(args.scenes, args.groups).items():
        print(f"{name}:")
        for key, value in figures.items():
            print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
