"""`ManualClock`: a test clock whose time moves only when a test moves it.

Like GStreamer's ``GstTestClock``: every timing-logic test runs on it, deterministically and
without sleeping. A test advances time, or waits until the code under test blocks in
`ManualClock.wait_until` and then `ManualClock.crank`s to that wait's target.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from parallax.clock.base import Clock, ClockFlags
from parallax.errors import ClockError
from parallax.time import CaptureTime, ClockDomain, format_time


class ManualClock(Clock):
    """A clock that advances only through `advance`, `set_time` and `crank`.

    Parameters
    ----------
    start : int
        Initial time, ns (this clock's own time).
    name : str
        Shown on the bus and in logs.

    Notes
    -----
    MONOTONIC capture times map by identity, so tests can hand a source device timestamps
    in the same numbers as the clock.
    """

    flags = ClockFlags.CAN_BE_MASTER | ClockFlags.CAN_SET_MASTER

    def __init__(self, start: int = 0, name: str = "manual") -> None:
        self.name = name
        self.resolution = 1
        self._time = start
        self._changed = threading.Condition()
        self._pending: Counter[int] = Counter()

    def now(self) -> int:
        """Return the clock's time, ns."""
        with self._changed:
            return self._time

    def to_clock_time(self, t: CaptureTime) -> int:
        """Identity for MONOTONIC; other domains raise `ClockError`."""
        if t.domain is not ClockDomain.MONOTONIC:
            raise ClockError(f"{self.name}: cannot map a {t.domain.value} timestamp")
        return t.ns

    def set_time(self, t: int) -> None:
        """Jump to ``t`` ns, waking every wait whose target is reached.

        Raises
        ------
        ClockError
            ``t`` is earlier than the current time (clocks never go back).
        """
        with self._changed:
            if t < self._time:
                raise ClockError(
                    f"{self.name}: cannot go back from {format_time(self._time)} to "
                    f"{format_time(t)}"
                )
            self._time = t
            self._changed.notify_all()

    def advance(self, ns: int) -> int:
        """Move time forward by ``ns`` (>= 0) and return the new time."""
        if ns < 0:
            raise ClockError(f"{self.name}: advance({ns}) would go back in time")
        with self._changed:
            self._time += ns
            self._changed.notify_all()
            return self._time

    @property
    def pending(self) -> list[int]:
        """Targets (ns) of the waits now blocked, earliest first."""
        with self._changed:
            return self._blocked()

    def _blocked(self) -> list[int]:
        # A wait whose target was reached is released even if its thread has not run yet
        # to deregister: counting it would let crank() spin on a target already reached.
        return sorted(t for t in self._pending.elements() if t > self._time)

    def wait_for_pending(self, count: int = 1, timeout: float = 5.0) -> list[int]:
        """Block until at least ``count`` waits are blocked on this clock; return their targets.

        Raises
        ------
        TimeoutError
            Fewer than ``count`` waits arrived within ``timeout`` seconds (real time).
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(blocked := self._blocked()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{self.name}: {len(blocked)} of {count} waits pending after {timeout} s"
                    )
                self._changed.wait(left)
            return blocked

    def crank(self, timeout: float = 5.0) -> int:
        """Wait for a blocked wait, advance time to its target (if later) and return it."""
        target = self.wait_for_pending(1, timeout)[0]
        with self._changed:
            if target > self._time:
                self._time = target
            self._changed.notify_all()
        return target

    def wait_until(self, t: int, cancel: threading.Event | None = None) -> bool:
        """Block until the clock reaches ``t``; False if ``cancel`` is set first.

        ``cancel`` is polled every 5 ms of real time while blocked (an Event cannot wake a
        Condition); everything else wakes at once.
        """
        with self._changed:
            if self._time >= t:
                return not (cancel is not None and cancel.is_set())
            self._pending[t] += 1
            self._changed.notify_all()
            try:
                while self._time < t:
                    if cancel is not None and cancel.is_set():
                        return False
                    self._changed.wait(0.005 if cancel is not None else None)
                return True
            finally:
                self._pending[t] -= 1
                if not self._pending[t]:
                    del self._pending[t]
