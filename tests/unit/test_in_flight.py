"""InFlightGate: at most `limit` requests at once across threads; a redirect inside one takes no second place."""

import threading
import time

from plex.in_flight import InFlightGate, check_when_placed


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


def test_a_request_called_off_while_it_waited_is_not_sent():
    gate = InFlightGate(1)
    called_off = threading.Event()
    sent = []

    def check():
        if called_off.is_set():
            raise RuntimeError("the batch stopped")

    def waiting_request():
        with check_when_placed(check):
            try:
                with gate.held():
                    sent.append("late")
            except RuntimeError as exc:
                sent.append(str(exc))

    with gate.held():  # the one place is taken; the other request waits for it
        waiter = threading.Thread(target=waiting_request, daemon=True)
        waiter.start()
        called_off.set()
    waiter.join(timeout=10)
    assert sent == ["the batch stopped"]
    with gate.held():  # its place was given back
        pass
