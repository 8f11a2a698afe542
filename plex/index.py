"""The path index: every Plex file path → (section, item), kept in step with Plex.

Matching a scene by file path must not cost a Plex request per scene, and searching
Plex by file name guesses wrong when two folders hold `scene.mp4`. So the index is
built from one paged listing per movie section, stored in the plugin's database, and
refreshed incrementally with Plex's `updatedAt>>=` filter (a newly scanned item gets
an updatedAt too, so the one filter also finds additions). A lookup reads SQLite only;
the tables and their statements are plex/index_table.py's.

Pages are parsed straight from Plex's XML and written as they arrive, so a 50,000-item
library never sits in memory as plexapi objects.

Deletions never show in a listing filtered by updatedAt, so two more things keep the
index true: the sync engine drops a key (`forget`) as soon as a multi-get no longer
returns it or a write to it answers 404, and once per `full_every` seconds a refresh
asks Plex for the section's item count (one request with a page size of 0). When Plex
holds fewer items than the index, a full paged pass replaces the section's rows, keys
not seen are dropped, and that happens at most once per period.
"""

from __future__ import annotations

from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from plex.index_table import IndexTable
from validation.pathmap import path_key

PAGE_SIZE = 1000
SETTLE_SECONDS = 5
FULL_EVERY_DEFAULT = 24 * 3600.0
# Ask Plex to leave out what the index never reads (a real server honours these; a
# listing still carries <Media><Part file=…>).
_LISTING_TRIM = (
    "excludeFields=summary,tagline"
    "&excludeElements=Genre,Role,Director,Writer,Country,Collection,Label,Guid,Rating,Producer"
)

Progress = Optional[Callable[[int, int], None]]


class PathIndex(IndexTable):
    """Build, refresh and query the path index; the reads and writes are IndexTable's."""

    def build(self, server, sections: Sequence, on_progress: Progress = None) -> int:
        """Replace the index of each section with a full paged listing; returns items seen.

        The section's row in plex_index_sections is dropped first and written last, so
        a build cut short (Stop, a crash, Plex gone) is redone on the next run.
        """
        total = 0
        for section in sections:
            sid = str(section.key)
            self.drop_section(sid)
            started = self.clock()
            seen, max_updated = self._ingest(server, sid, "", on_progress, replace=False)
            self.record_pass(sid, section.title, max_updated, full=True,
                             since=_next_since(max_updated, started), checked_at=started)
            total += seen
        return total

    def refresh(self, server, sections: Sequence, on_progress: Progress = None,
                full_every: float = FULL_EVERY_DEFAULT) -> int:
        """Bring the index up to date: changed items since the last refresh, or a full
        build for a section never indexed; deletions once per `full_every` seconds (see
        the module docstring). Returns the number of items re-read."""
        built = self.built_sections()
        total = 0
        for section in sections:
            sid = str(section.key)
            if sid not in built:
                total += self.build(server, [section], on_progress)
                continue
            newest = int(built[sid]["max_updated_at"] or 0)
            since = self.since().get(sid, newest - 1)
            started = self.clock()
            seen, max_updated = self._ingest(
                server, sid, f"&updatedAt>>={since}", on_progress, replace=True
            )
            newest = max(max_updated, newest)
            self.record_pass(sid, section.title, newest, full=False, since=_next_since(newest, started))
            total += seen
            total += self._check_count(server, section, full_every)
        return total

    def stale(self, server, section) -> int:
        """Index entries (items) Plex no longer holds in this section, by count: one request."""
        return max(0, self.keys(str(section.key)) - item_count(server, str(section.key)))

    def _check_count(self, server, section, full_every: float) -> int:
        """Once per period: compare Plex's item count; sweep the section when items went away."""
        sid = str(section.key)
        now = self.clock()
        if now - float(self.checked().get(sid, 0)) < full_every:
            return 0
        seen = 0
        if item_count(server, sid) < self.keys(sid):
            seen = len(self.sweep(server, section))
        self.set_checked(sid, now)
        return seen

    def sweep(self, server, section) -> List[str]:
        """A full paged pass that keeps lookups working while it runs: rows are replaced
        page by page, and keys the pass did not see are dropped at the end (returned)."""
        sid = str(section.key)
        started = self.clock()
        seen_keys: set = set()
        max_updated = 0
        for rows, _done, _total in _pages(server, sid, ""):
            self.put_page(sid, rows, replace=True)
            seen_keys.update(r[2] for r in rows)
            max_updated = max([max_updated] + [r[4] for r in rows])
        return self.finish_sweep(sid, section.title, seen_keys, max_updated, _next_since(max_updated, started))

    def ensure_built(self, server, sections: Sequence, on_progress: Progress = None) -> int:
        """Build only the sections that have no index yet (the first run)."""
        built = self.built_sections()
        missing = [s for s in sections if str(s.key) not in built]
        return self.build(server, missing, on_progress) if missing else 0

    def _ingest(self, server, sid: str, extra: str, on_progress: Progress, replace: bool):
        seen, max_updated = 0, 0
        for rows, done, total in _pages(server, sid, extra):
            self.put_page(sid, rows, replace)
            seen += len({r[2] for r in rows})
            max_updated = max([max_updated] + [r[4] for r in rows])
            if on_progress:
                on_progress(done, total)
        return seen, max_updated


def item_count(server, sid: str) -> int:
    """The section's item count: a listing page of size 0 still carries totalSize
    (plexapi's LibrarySection.totalViewSize asks the same way)."""
    data = server.query(f"/library/sections/{sid}/all?type=1",
                        headers={"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "0"})
    if data is None:
        return 0
    return int(data.attrib.get("totalSize") or data.attrib.get("size") or 0)


def _next_since(newest: int, listed_at: float) -> int:
    """The updatedAt the next refresh asks after (Plex's `>>=` is strictly after).

    An item changed later within the newest second we saw would be missed by a strict
    filter, so while that second is recent the next refresh starts one second earlier
    (rows are upserted, re-reading is harmless). Once it is SETTLE_SECONDS old
    (allowing for some clock difference between this machine and Plex's), nothing can
    still change within it, and a refresh with nothing new reads nothing.
    """
    if newest and listed_at - newest < SETTLE_SECONDS:
        return newest - 1
    return newest


def _pages(server, sid: str, extra: str) -> Iterator[Tuple[list, int, int]]:
    """Rows of each listing page: (path_key, section, rating_key, file, updatedAt).

    Only the rows outlive a page: its parsed XML is let go before the page is handed
    on and before the next one is asked for, so a build holds one page's tree at a
    time (a tree is several times the size of its rows).
    """
    key = f"/library/sections/{sid}/all?type=1&{_LISTING_TRIM}{extra}"
    start = 0
    while True:
        headers = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(PAGE_SIZE)}
        data = server.query(key, headers=headers)
        if data is None:
            return
        rows, listed, total = _rows(data, sid)
        del data
        start += PAGE_SIZE
        yield rows, min(start, total), total
        if not listed or start >= total:
            return


def _rows(data, sid: str) -> Tuple[list, int, int]:
    """A listing page's rows, how many videos it listed, and the section's total."""
    rows = []
    listed = 0
    for video in data:
        if video.tag != "Video":
            continue
        listed += 1
        rk = video.attrib.get("ratingKey")
        if not rk:
            continue
        updated = int(video.attrib.get("updatedAt") or video.attrib.get("addedAt") or 0)
        for part in video.iter("Part"):
            file_path = part.attrib.get("file")
            if file_path:
                rows.append((path_key(file_path), sid, str(rk), file_path, updated))
    total = int(data.attrib.get("totalSize") or data.attrib.get("size") or listed)
    return rows, listed, total
