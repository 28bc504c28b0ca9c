"""`SystemClock`: ``CLOCK_MONOTONIC``, the default pipeline clock."""

from __future__ import annotations

import threading
import time

from parallax.clock.base import Clock, ClockFlags
from parallax.errors import ClockError
from parallax.time import SECOND, CaptureTime, ClockDomain

_POSIX_CLOCKS = {
    ClockDomain.MONOTONIC_RAW: time.CLOCK_MONOTONIC_RAW,
    ClockDomain.REALTIME: time.CLOCK_REALTIME,
    ClockDomain.TAI: time.CLOCK_TAI,
    ClockDomain.BOOTTIME: time.CLOCK_BOOTTIME,
}


def monotonic_offset(clock_id: int) -> int:
    """Return ``clock - CLOCK_MONOTONIC`` now, ns, read between two monotonic reads.

    The other clock is read between two ``CLOCK_MONOTONIC`` reads and compared with their
    midpoint, so the error is at most half the read-pair gap (well under a microsecond).
    """
    before = time.monotonic_ns()
    other = time.clock_gettime_ns(clock_id)
    after = time.monotonic_ns()
    return other - (before + after) // 2


class SystemClock(Clock):
    """The kernel's ``CLOCK_MONOTONIC``: the domain of V4L2, PipeWire and ALSA monotonic stamps.

    `now` is ``clock_gettime(CLOCK_MONOTONIC)`` in ns (origin: boot, not counting suspend).
    MONOTONIC capture times map exactly (identity). REALTIME, TAI and BOOTTIME capture times
    map through their current offset to MONOTONIC (they run at the same rate; REALTIME can
    step). MONOTONIC_RAW runs at the crystal's rate without NTP slewing, so its offset drifts
    by the NTP correction (a few ppm): a calibrated mapping replaces this once drift
    estimation lands. DEVICE and UNKNOWN cannot be mapped and raise `ClockError`.
    """

    name = "system"
    flags = ClockFlags.CAN_BE_MASTER | ClockFlags.REALTIME

    def __init__(self) -> None:
        self.resolution = max(1, round(time.clock_getres(time.CLOCK_MONOTONIC) * SECOND))

    def now(self) -> int:
        """Return ``CLOCK_MONOTONIC`` now, ns."""
        return time.monotonic_ns()

    def to_clock_time(self, t: CaptureTime) -> int:
        """Map a capture time into ``CLOCK_MONOTONIC`` ns (identity for MONOTONIC)."""
        if t.domain is ClockDomain.MONOTONIC:
            return t.ns
        clock_id = _POSIX_CLOCKS.get(t.domain)
        if clock_id is None:
            raise ClockError(
                f"{self.name}: cannot map a {t.domain.value} timestamp to CLOCK_MONOTONIC; "
                "the source must calibrate its device clock against the pipeline clock"
            )
        return t.ns - monotonic_offset(clock_id)

    def wait_until(self, t: int, cancel: threading.Event | None = None) -> bool:
        """Sleep until ``CLOCK_MONOTONIC`` reaches ``t`` ns; False if ``cancel`` is set first.

        Sleeps release the GIL. The target is re-read after each wake, so an early wake-up
        sleeps again; the wake-up lands within the kernel's timer slack (~50-100 us).
        """
        while True:
            if cancel is not None and cancel.is_set():
                return False
            remaining = t - time.monotonic_ns()
            if remaining <= 0:
                return True
            # A sleep length in float seconds is the OS interface; no timestamp is a float.
            if cancel is None:
                time.sleep(remaining / SECOND)
            elif cancel.wait(remaining / SECOND):
                return False
