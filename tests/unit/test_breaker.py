import pytest

from worker.database import open_db
from tests.unit.queue_support import FakeClock, settings
from errors.kinds import ErrorKind
from worker.breaker import CLOSED, HALF_OPEN, OPEN, PROBE_LEASE_SECONDS, CircuitBreaker

T = ErrorKind.TRANSIENT


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def make(tmp_path, clock):
    """A breaker on the shared file; each call is like another process opening it."""

    def build():
        return CircuitBreaker(open_db(str(tmp_path)), settings(), clock)

    return build


def trip(breaker, clock, n=5):
    for _ in range(n):
        breaker.failure(T, "connection refused", clock())


def test_closed_allows_and_opens_after_five_consecutive_transient_failures(make, clock):
    breaker = make()
    assert breaker.allow() and breaker.state() == CLOSED
    trip(breaker, clock, 4)
    assert breaker.state() == CLOSED and breaker.failures() == 4
    assert breaker.failure(T, "refused") is True
    assert breaker.state() == OPEN
    assert not breaker.allow()
    assert breaker.next_probe_at() == clock() + 10.0


@pytest.mark.parametrize("kind", [ErrorKind.NOT_FOUND, ErrorKind.PERMANENT, ErrorKind.CONFIG, ErrorKind.UNEXPECTED])
def test_only_transient_failures_count(make, kind):
    breaker = make()
    for _ in range(20):
        assert breaker.failure(kind, "nope") is False
    assert breaker.state() == CLOSED and breaker.failures() == 0


def test_a_success_resets_the_count(make, clock):
    breaker = make()
    trip(breaker, clock, 4)
    breaker.success()
    trip(breaker, clock, 4)
    assert breaker.state() == CLOSED


def test_a_new_process_honours_an_open_circuit(make, clock):
    first = make()
    trip(first, clock)
    second = make()
    assert second.state() == OPEN
    assert not second.allow()
    assert second.snapshot()["current_outage"]["reason"] == "connection refused"


def test_exactly_one_probe_even_across_processes(make, clock):
    first, second = make(), make()
    trip(first, clock)
    clock.advance(10.0)
    assert first.state() == HALF_OPEN  # due
    assert first.allow() is True and first.holds_probe
    assert first.allow() is False
    assert second.allow() is False and not second.holds_probe
    assert second.state() == HALF_OPEN


def test_probe_failure_doubles_the_wait_up_to_the_cap(make, clock):
    breaker = make()
    trip(breaker, clock)
    waits = []
    for _ in range(5):
        clock.advance(breaker.next_probe_at() - clock())
        assert breaker.allow()
        breaker.failure(T, "still down")
        waits.append(breaker.next_probe_at() - clock())
        assert breaker.state() == OPEN and not breaker.allow()
    assert waits == [20.0, 40.0, 60.0, 60.0, 60.0]


def test_probe_success_closes_and_ends_the_outage(make, clock):
    breaker = make()
    trip(breaker, clock)
    breaker.note_jobs_held(42)
    clock.advance(10.0)
    assert breaker.allow()
    breaker.success()
    assert breaker.state() == CLOSED and breaker.allow() and breaker.failures() == 0
    snap = breaker.snapshot()
    assert snap["current_outage"] is None
    outage = snap["recent_outages"][0]
    assert outage["ended_at"] == clock() and outage["jobs_held"] == 42
    assert breaker.recovered_at() == clock()
    # A new outage starts from the first recovery wait again.
    trip(breaker, clock)
    assert breaker.next_probe_at() == clock() + 10.0


def test_a_lost_probe_is_retaken_after_its_lease(make, clock):
    dead, alive = make(), make()
    trip(dead, clock)
    clock.advance(10.0)
    assert dead.allow()  # ... and its process dies here
    clock.advance(PROBE_LEASE_SECONDS - 1)
    assert not alive.allow()
    clock.advance(1)
    assert alive.allow() and alive.holds_probe


def test_cancelled_probe_is_due_again_at_once(make, clock):
    breaker = make()
    trip(breaker, clock)
    clock.advance(10.0)
    assert breaker.allow()
    breaker.cancel_probe()
    assert breaker.state() == HALF_OPEN and breaker.allow()
