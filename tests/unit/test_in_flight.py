"""InFlightGate: at most `limit` requests at once across threads; a redirect inside one takes no second place."""

import threading
import time

from plex.in_flight import InFlightGate


def _most_at_once(gate: InFlightGate, threads: int) -> int:
    lock = threading.Lock()
    now = most = 0
    start = threading.Barrier(threads)

    def request():
        nonlocal now, most
        start.wait(timeout=10)
        for _ in range(5):
            with gate.held():
                with lock:
                    now += 1
                    most = max(most, now)
                time.sleep(0.002)  # the answer is awaited with the place held
                with lock:
                    now -= 1

    workers = [threading.Thread(target=request) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert not any(w.is_alive() for w in workers)
    return most


def test_threads_share_the_places():
    assert _most_at_once(InFlightGate(3), 8) == 3


def test_a_new_limit_applies_to_the_requests_after_it():
    gate = InFlightGate(4)
    gate.set_limit(1)
    assert _most_at_once(gate, 6) == 1


def test_a_redirect_inside_a_request_takes_no_second_place():
    gate = InFlightGate(1)
    done = []

    def request():
        with gate.held():
            with gate.held():  # requests' Session.send following a redirect calls send again
                done.append(True)
        with gate.held():  # and the place was given back
            done.append(True)

    worker = threading.Thread(target=request, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert done == [True, True]
