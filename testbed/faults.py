"""Fault injection shared by the emulated servers.

Tests drive failures through one small vocabulary (latency, fail, fail_window, hang)
so the Plex and Stash emulators misbehave the same way. The class only decides what
should happen to a request; each server carries the decision out.

Stable API (other emulators import it):
    faults = Faults()
    faults.latency(seconds, route=None, method=None)
    faults.fail(n=1, status=503, route=None, method=None)
    faults.fail_window(seconds, status=503, route=None, method=None)
    faults.hang(n=1, seconds=None, route=None, method=None, hold=None)
    faults.clear()
    action = faults.check(method, path)   # -> Action(delay, status, hang)
    faults.sleep(seconds)                  # interruptible wait; False if released
    faults.release()                       # end every wait (server stopping)
    faults.rearm()                         # allow waits again (server restarted)
    faults.snapshot() / faults.configure(dict)   # JSON-friendly, for control endpoints

A route is a path prefix ("/library/sections"), optionally prefixed with a method
("PUT /library/sections"); `method=` does the same. No route matches everything.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

# A hung response is held this long at most, so a forgotten fault cannot wedge a test
# run; clients under test use much shorter timeouts.
DEFAULT_HOLD = 30.0


@dataclass
class Action:
    """What the server must do to one request before (or instead of) answering."""

    delay: float = 0.0
    status: Optional[int] = None
    hang: float = 0.0

    @property
    def is_noop(self) -> bool:
        return not self.delay and self.status is None and not self.hang


@dataclass
class _Rule:
    kind: str  # "latency" | "fail" | "hang"
    method: Optional[str]
    prefix: str
    value: float = 0.0  # latency seconds, or hang hold seconds
    status: int = 503
    remaining: Optional[int] = None  # None: unlimited (until `until`)
    until: Optional[float] = None  # monotonic deadline; None: no window

    def matches(self, method: str, path: str, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method and self.method != method.upper():
            return False
        return path.startswith(self.prefix)

    def expired(self, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return True
        return self.remaining is not None and self.remaining <= 0


def _split_route(route: Optional[str], method: Optional[str]):
    prefix = route or ""
    if " " in prefix:
        head, prefix = prefix.split(" ", 1)
        method = method or head
    return (method.upper() if method else None), prefix.strip()


class Faults:
    """Thread-safe set of fault rules, consulted once per request."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._rules: List[_Rule] = []
        self._released = threading.Event()

    # -- configuring -------------------------------------------------------------

    def latency(self, seconds: float, route: Optional[str] = None,
                method: Optional[str] = None) -> None:
        """Delay every matching request by `seconds` until cleared."""
        m, p = _split_route(route, method)
        self._add(_Rule("latency", m, p, value=float(seconds)))

    def fail(self, n: int = 1, status: int = 503, route: Optional[str] = None,
             method: Optional[str] = None) -> None:
        """Answer the next `n` matching requests with `status`."""
        m, p = _split_route(route, method)
        self._add(_Rule("fail", m, p, status=int(status), remaining=int(n)))

    def fail_window(self, seconds: float, status: int = 503, route: Optional[str] = None,
                    method: Optional[str] = None) -> None:
        """Answer every matching request with `status` for the next `seconds`."""
        m, p = _split_route(route, method)
        until = self._clock() + float(seconds)
        self._add(_Rule("fail", m, p, status=int(status), until=until))

    def hang(self, n: int = 1, seconds: Optional[float] = None, route: Optional[str] = None,
             method: Optional[str] = None, hold: Optional[float] = None) -> None:
        """Hold matching responses for `hold` seconds (then drop the connection).

        With `seconds`, every matching request in that window hangs; otherwise the
        next `n` do. The hold is bounded and ends early on release().
        """
        m, p = _split_route(route, method)
        hold_for = DEFAULT_HOLD if hold is None else float(hold)
        if seconds is not None:
            rule = _Rule("hang", m, p, value=hold_for, until=self._clock() + float(seconds))
        else:
            rule = _Rule("hang", m, p, value=hold_for, remaining=int(n))
        self._add(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    # -- consulting --------------------------------------------------------------

    def check(self, method: str, path: str) -> Action:
        """Consume the rules that match this request and say what to do."""
        action = Action()
        now = self._clock()
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path, now):
                    continue
                if rule.kind == "latency":
                    action.delay += rule.value
                    continue
                if action.status is not None or action.hang:
                    continue  # one terminal outcome per request
                if rule.remaining is not None:
                    rule.remaining -= 1
                if rule.kind == "fail":
                    action.status = rule.status
                else:
                    action.hang = rule.value
            self._rules = [r for r in self._rules if not r.expired(now)]
        return action

    def sleep(self, seconds: float) -> bool:
        """Wait up to `seconds`; False when cut short by release()."""
        if seconds <= 0:
            return not self._released.is_set()
        return not self._released.wait(seconds)

    def release(self) -> None:
        """End every current and future wait (the server is shutting down)."""
        self._released.set()

    def rearm(self) -> None:
        self._released.clear()

    # -- JSON form for control endpoints -----------------------------------------

    def snapshot(self) -> List[Dict[str, Any]]:
        now = self._clock()
        with self._lock:
            return [{
                "kind": r.kind, "method": r.method, "route": r.prefix, "value": r.value,
                "status": r.status, "remaining": r.remaining,
                "seconds_left": None if r.until is None else max(0.0, r.until - now),
            } for r in self._rules]

    def configure(self, spec: Dict[str, Any]) -> None:
        """Apply {"op": "latency"|"fail"|"fail_window"|"hang"|"clear", ...kwargs}."""
        spec = dict(spec)
        op = spec.pop("op", None)
        allowed = {"latency", "fail", "fail_window", "hang", "clear"}
        if op not in allowed:
            raise ValueError("unknown fault op: %r" % (op,))
        getattr(self, op)(**spec)
