from worker.database import open_db
from sync_queue.sync_state import SceneState, SyncState


def test_record_get_many_forget(tmp_path):
    states = SyncState(open_db(str(tmp_path)))
    assert states.get(1) is None and states.count() == 0
    written = {"title": "Ünïcode", "tags": ["a", "b"], "rating": 8}
    state = SceneState(
        scene_id=1, fingerprint="f1", plex_key="/library/metadata/9", section_id="2", written=written,
        poster_hash="p", art_hash=None, image_source="http://stash/screenshot/1", read_at=10.0, synced_at=11.0,
    )
    states.record(state)
    assert states.get(1) == state
    states.record(SceneState(scene_id=1, fingerprint="f2"))
    assert states.get(1) == SceneState(scene_id=1, fingerprint="f2")
    for i in range(2, 1202):
        states.record(SceneState(scene_id=i, read_at=float(i)))
    many = states.get_many(list(range(0, 1300)))
    assert len(many) == 1201 and many[600].read_at == 600.0
    states.forget(1)
    assert states.get(1) is None and states.count() == 1200
