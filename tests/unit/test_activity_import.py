"""The pure parts of the Plex activity import: the rating rule and the play log."""

import pytest

from sync_queue.activity_log import DONE, INTENT, ActivityLog, PlayKey
from worker.activity_import import plex_rating_wins
from worker.database import open_db


@pytest.mark.parametrize("plex, written, rating100, keep, wins", [
    (8.0, {"user_rating": 6.0}, 60, False, True),   # rated in Plex only
    (6.0, {"user_rating": 6.0}, 60, False, False),  # nothing changed
    (6.0, {"user_rating": 6.0}, 30, False, False),  # changed in Stash only: the sync sends it
    (8.0, {"user_rating": 6.0}, 30, False, False),  # both changed: Stash wins
    (8.0, {"user_rating": 6.0}, 30, True, True),    # both changed, Plex edits kept
    (8.0, {"user_rating": 6.0}, 80, False, False),  # Stash already has it
    (8.0, {}, None, False, True),                    # never written (skip_rating): a Plex rating comes in
    (8.0, {}, 40, False, False),                     # never written: no evidence, Stash's rating stays
    (7.96, {"user_rating": 8.0}, 80, False, False),  # within Plex's rounding
])
def test_when_a_plex_rating_wins(plex, written, rating100, keep, wins):
    assert plex_rating_wins(plex, written, rating100, keep) is wins


@pytest.fixture
def log(tmp_path):
    conn = open_db(str(tmp_path))
    yield ActivityLog(conn)
    conn.close()


def test_intent_then_done_and_the_mark_moves_with_the_last_done(log):
    a, b = PlayKey(1, "10", 1000), PlayKey(1, "11", 2000)
    log.intend([(a, 5), (b, 6)], now=1.0)
    assert log.states([a, b, PlayKey(2, "10", 1000)]) == {a: INTENT, b: INTENT}
    assert log.recent_intents(0.5) == {a, b} and log.recent_intents(1.5) == set()
    log.done([(a, 5)], now=2.0)
    assert log.states([a, b]) == {a: DONE, b: INTENT}
    assert log.high_water(1) is None
    log.done([(b, 6)], now=3.0, marks={1: 2000})
    assert log.high_water(1) == 2000
    log.done([], now=4.0, marks={1: 1500})  # a mark never moves back
    assert log.high_water(1) == 2000
    assert log.counts() == {"plays_imported": 2, "plays_in_doubt": 0}


def test_a_done_play_never_becomes_an_intent_again(log):
    key = PlayKey(1, "10", 1000)
    log.done([(key, 5)], now=1.0)
    log.intend([(key, 5)], now=2.0)
    assert log.states([key]) == {key: DONE}


def test_states_of_many_keys_are_read_in_chunks(log):
    keys = [PlayKey(1, str(n), n) for n in range(1000)]
    log.done([(k, 1) for k in keys[::2]], now=1.0)
    found = log.states(keys)
    assert len(found) == 500 and all(state == DONE for state in found.values())


def test_the_periodic_import_is_due_every_activity_minutes_when_on(tmp_path):
    from sync_queue import db
    from validation.settings import Settings
    from worker.activity_import import LAST_RUN_KEY, due

    conn = open_db(str(tmp_path))
    on = Settings(import_plex_activity=True, activity_minutes=15)
    assert not due(conn, Settings(), now=1000.0)  # off by default
    assert due(conn, on, now=1000.0)  # never ran
    db.set_meta(conn, LAST_RUN_KEY, 1000.0)
    assert not due(conn, on, now=1000.0 + 14 * 60)
    assert due(conn, on, now=1000.0 + 15 * 60)
    conn.close()


def test_plex_accounts_are_read_as_names():
    from validation.settings import Settings

    assert Settings().account_names == ()
    assert Settings(plex_accounts=" guest, Kid ,,").account_names == ("guest", "Kid")
