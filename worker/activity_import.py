"""Plex → Stash: plays, resume points and ratings made in Plex come back to Stash, once.

A play is exactly-once across reruns, kills and overlapping runs:
- one import at a time, by a lock file beside the queue file (a kill frees it);
- each Plex play (account, ratingKey, viewedAt) is recorded as an intent before Stash
  is asked to add it, and as done right after (sync_queue/activity_log.py); a play
  found done is never sent again;
- a play left as an intent by a killed run may or may not have reached Stash, and its
  request may still be in flight (the server finishes a request whose client died): it is
  judged only once that request must have ended (the Stash client's timeout), and sent
  again only when the scene's play history in Stash has no play within a second of it.
Each account's history is read from its high-water mark minus an overlap (O(new plays));
the mark moves only once every play read is done, so a kill re-reads, never skips.

Resume points and ratings are the token owner's (Plex shows each account only its own).
A rating counts as set in Plex when it differs from what Stash2Plex last wrote to Plex;
it becomes rating100 and is then recorded as written, so the next sync sends nothing
back (no ping-pong). When Stash's rating changed too since that write, Stash wins unless
keep_plex_edits is checked.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from filelock import FileLock, Timeout

from plex import activity as plex_activity
from stash.activity import StashActivity, epoch_of
from stash.client import TIMEOUT as STASH_TIMEOUT
from sync_queue import db
from sync_queue.activity_log import DONE, INTENT, ActivityLog, PlayKey

log = logging.getLogger("stash2plex")

LOCK_FILE = "activity.lock"
OVERLAP_SECONDS = 3600  # plays recorded late (a client that was offline) still come back
SAME_PLAY_SECONDS = 1.0
IN_DOUBT_SETTLE_SECONDS = STASH_TIMEOUT + 5.0  # a dead run's last request has ended by then
LAST_RUN_KEY = "activity_imported_at"
RATED_MARK_KEY = "activity_rated_since"
LAST_REPORT_KEY = "activity_last_report"
TITLES_SHOWN = 5


class ImportBusy(RuntimeError):
    """Another process is importing Plex activity right now."""


@dataclass
class Report:
    plays: int = 0
    resume_points: int = 0
    ratings: int = 0
    skipped: int = 0
    skipped_titles: List[str] = field(default_factory=list)
    in_doubt: int = 0  # plays a killed run was sending moments ago: judged on a later run
    unknown_accounts: List[str] = field(default_factory=list)

    def skip(self, title: str) -> None:
        self.skipped += 1
        if title and title not in self.skipped_titles and len(self.skipped_titles) < TITLES_SHOWN:
            self.skipped_titles.append(title)

    def as_output(self) -> Dict[str, Any]:
        out = dict(self.__dict__)
        out["summary"] = (f"Import Plex Activity: {self.plays} plays, {self.resume_points} resume points, "
                          f"{self.ratings} ratings; {self.skipped} skipped (not matched to a scene)")
        if self.unknown_accounts:
            out["summary"] += "; unknown Plex accounts: " + ", ".join(self.unknown_accounts)
        return out


def due(conn, settings, now: float) -> bool:
    """Is a periodic import due (the setting is on and the last one is old enough)?"""
    if not settings.import_plex_activity:
        return False
    last = db.get_meta(conn, LAST_RUN_KEY)
    return last is None or now - float(last) >= settings.activity_minutes * 60


def import_activity(app, wait: float = 0.0, now=time.time) -> Dict[str, Any]:
    """Run one import under the import lock; ImportBusy when another one holds it past `wait`."""
    lock = FileLock(os.path.join(app.data_dir, LOCK_FILE), thread_local=False)
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise ImportBusy("another Import Plex Activity is running; try again when it has finished") from None
    try:
        result = Importer(app, now).run().as_output()
        db.set_meta(app.conn, LAST_REPORT_KEY, result)
        return result
    finally:
        lock.release()


def activity_status(conn) -> Optional[Dict[str, Any]]:
    """For Queue Status: plays imported so far, plays in doubt, the last import and its report."""
    try:
        figures: Dict[str, Any] = ActivityLog(conn).counts()
        last = db.get_meta(conn, LAST_RUN_KEY)
    except sqlite3.OperationalError:  # a read-only file from before the tables existed
        return None
    figures["last_import_at"] = None if last is None else time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(last)))
    figures["last_report"] = db.get_meta(conn, LAST_REPORT_KEY)
    return figures


class Importer:
    def __init__(self, app, now):
        self.app, self.now = app, now
        self.settings = app.settings
        self.log = ActivityLog(app.conn)
        self.stash = StashActivity(app.stash)
        self.server = app.plex()
        self.report = Report()

    def run(self) -> Report:
        accounts, self.report.unknown_accounts = plex_activity.account_ids(self.server, self.settings.account_names)
        plays, marks = self._read_plays(accounts)
        items = self.app.sync_state.items_for_keys({p.rating_key for p in plays})
        section_ids = [str(s.key) for s in self.app.sections()]
        progress = plex_activity.in_progress(self.server, section_ids)
        rated_mark = db.get_meta(self.app.conn, RATED_MARK_KEY)
        rated = [] if self.settings.skip_plex_ratings else plex_activity.rated_since(
            self.server, section_ids, None if rated_mark is None else int(rated_mark) - OVERLAP_SECONDS)
        items.update(self.app.sync_state.items_for_keys({i.rating_key for i in progress + rated} - set(items)))
        scenes = self.stash.scenes({item.scene_id for item in items.values()})
        self._import_plays(plays, items, scenes)
        if not self.report.in_doubt:
            self.log.done([], self.now(), marks)  # every play read is done: the marks move
        self._import_resume(progress, items, scenes)
        self._import_ratings(rated, items, scenes)
        db.set_meta(self.app.conn, LAST_RUN_KEY, self.now())
        return self.report

    def _read_plays(self, accounts: Dict[int, str]) -> Tuple[List[plex_activity.PlexPlay], Dict[int, int]]:
        plays, marks = [], {}
        for account in sorted(accounts):
            high = self.log.high_water(account)
            found = plex_activity.plays_since(self.server, account, None if high is None else high - OVERLAP_SECONDS)
            plays.extend(dict.fromkeys(found))  # one play per (account, item, second), as it is keyed
            if found:
                marks[account] = max(p.viewed_at for p in found)
        return plays, marks

    def _import_plays(self, plays, items, scenes) -> None:
        keys = {p: PlayKey(p.account_id, p.rating_key, p.viewed_at) for p in plays}
        states = self.log.states(keys.values())
        fresh = self.log.recent_intents(self.now() - IN_DOUBT_SETTLE_SECONDS)
        by_scene: Dict[int, List[Tuple[Any, PlayKey]]] = defaultdict(list)
        for play in plays:
            if states.get(keys[play]) == DONE:
                continue
            if keys[play] in fresh:
                self.report.in_doubt += 1
                continue
            item = items.get(play.rating_key)
            if item is None or item.scene_id not in scenes:
                self.report.skip(play.title)
                continue
            by_scene[item.scene_id].append((play, keys[play]))
        for scene_id, group in sorted(by_scene.items()):
            self._add_scene_plays(scene_id, group, states, scenes[scene_id])

    def _add_scene_plays(self, scene_id: int, group, states, scene: dict) -> None:
        """Intent, Stash, done: a kill between any two steps never adds a play twice."""
        in_stash = list(scene.get("plays") or [])
        send: List[int] = []
        for play, key in group:
            match = _close_play(in_stash, play.viewed_at) if states.get(key) == INTENT else None
            if match is None:
                send.append(play.viewed_at)
            else:
                in_stash.remove(match)  # a killed run's play that did reach Stash
        pairs = [(key, scene_id) for _, key in group]
        self.log.intend(pairs, self.now())
        if send:
            self.stash.add_plays(scene_id, send)
            self.report.plays += len(send)
        self.log.done(pairs, self.now())

    def _import_resume(self, progress, items, scenes) -> None:
        for entry in progress:
            item = items.get(entry.rating_key)
            scene = scenes.get(item.scene_id) if item else None
            if scene is None:
                continue
            seconds = entry.view_offset / 1000.0
            if abs(float(scene.get("resume_time") or 0) - seconds) < SAME_PLAY_SECONDS:
                continue
            played = scene.get("last_played_at")
            if played and entry.last_viewed_at and epoch_of(played) > entry.last_viewed_at:
                continue  # played in Stash after Plex saw it: Stash's point is newer
            self.stash.save_resume(item.scene_id, seconds)
            scene["resume_time"] = seconds
            self.report.resume_points += 1

    def _import_ratings(self, rated, items, scenes) -> None:
        newest = None
        for entry in rated:
            newest = max(newest or 0, entry.last_rated_at or 0)
            item = items.get(entry.rating_key)
            scene = scenes.get(item.scene_id) if item else None
            if scene is None or entry.user_rating is None:
                continue
            if plex_rating_wins(entry.user_rating, item.written, scene.get("rating100"), self.settings.keep_plex_edits):
                self.stash.set_rating(item.scene_id, round(entry.user_rating * 10))
                scene["rating100"] = round(entry.user_rating * 10)
                self.report.ratings += 1
            self.app.sync_state.note_written(item.scene_id, "user_rating", entry.user_rating)
        if newest:
            db.set_meta(self.app.conn, RATED_MARK_KEY, newest)


def plex_rating_wins(plex: float, written: Dict[str, Any], rating100: Optional[int], keep_plex_edits: bool) -> bool:
    """Should Stash take Plex's rating? Only when someone rated in Plex, and Stash did not
    change too since our last write (or keep_plex_edits lets Plex win then)."""
    stash = None if rating100 is None else rating100 / 10
    if "user_rating" not in written:
        return stash is None  # no record of ours to tell who changed what: never overwrite Stash
    if _same_rating(written["user_rating"], plex):
        return False  # what we wrote: nobody rated in Plex
    if _same_rating(stash, plex):
        return False
    stash_edited = not _same_rating(written["user_rating"], stash)
    return not stash_edited or keep_plex_edits


def _same_rating(a: Optional[float], b: Optional[float]) -> bool:
    if a is None or b is None:
        return a is b
    return abs(float(a) - float(b)) < 0.05


def _close_play(plays: List[float], viewed_at: int) -> Optional[float]:
    for moment in plays:
        if abs(moment - viewed_at) <= SAME_PLAY_SECONDS:
            return moment
    return None


def import_if_due(app, now=time.time) -> Optional[Dict[str, Any]]:
    """The drainer's periodic import, when import_plex_activity is on and it is due.

    Never raises: a failure is logged and tried again after activity_minutes, so a Plex
    or Stash hiccup neither stops the drainer nor makes it ask every cycle. While the
    circuit breaker is not closed it waits: the import's requests never probe Plex.
    """
    try:
        if not due(app.conn, app.settings, now()):
            return None
        if app.breaker().state() != "closed":
            return None  # Plex is out: the sync's probe finds out when it is back, not us
        result = import_activity(app, wait=0.0, now=now)
    except ImportBusy:
        return None  # the task is importing right now
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("Plex activity import failed, next try in %d min: %s", app.settings.activity_minutes, exc)
        try:
            db.set_meta(app.conn, LAST_RUN_KEY, now())
        except Exception:  # noqa: BLE001 - storage trouble is the drain session's to report
            pass
        return None
    log.info("%s", result["summary"])
    return result
