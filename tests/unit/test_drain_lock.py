import pytest

from worker.lock import DrainLock, DrainLockBusy


def test_one_holder_at_a_time(tmp_path):
    first, second = DrainLock(str(tmp_path)), DrainLock(str(tmp_path))
    assert not first.is_held_elsewhere()
    assert first.try_acquire() and first.held
    assert first.try_acquire()  # already ours
    assert not second.try_acquire()
    assert not second.acquire(timeout=0.05)
    assert second.is_held_elsewhere() and not first.is_held_elsewhere()
    first.release()
    assert not first.held
    assert second.try_acquire()
    second.release()


def test_context_manager_does_not_wait(tmp_path):
    holder = DrainLock(str(tmp_path))
    with holder:
        assert holder.held
        with pytest.raises(DrainLockBusy):
            with DrainLock(str(tmp_path)):
                pass
    assert not holder.held and not holder.is_held_elsewhere()
