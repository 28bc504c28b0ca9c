"""The clock interface every pipeline clock implements, and how a pipeline picks one."""

from __future__ import annotations

import abc
import enum
import threading
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from parallax.time import CaptureTime


class ClockFlags(enum.IntFlag):
    """What a clock can do (GStreamer's meanings)."""

    NONE = 0
    CAN_BE_MASTER = 0x01
    """Other clocks may be slaved to it."""
    CAN_SET_MASTER = 0x02
    """It can follow another clock (calibrated against it)."""
    HARDWARE = 0x04
    """It advances with a device's crystal (a sound card), not the CPU's."""
    NETWORK = 0x08
    """It follows a clock over the network (NTP, PTP)."""
    REALTIME = 0x10
    """It advances in real time (as opposed to a test clock)."""


class Clock(abc.ABC):
    """A source of time for a pipeline.

    Attributes
    ----------
    name : str
        Shown in logs and on the bus (``"system"``, ``"alsa:hw:0"``).
    flags : ClockFlags
        Capabilities.
    resolution : int
        Smallest step of `now`, ns.
    """

    name: str = "clock"
    flags: ClockFlags = ClockFlags.NONE
    resolution: int = 1

    @abc.abstractmethod
    def now(self) -> int:
        """Return the current time, ns, in this clock's own time (origin: the clock's epoch)."""

    @abc.abstractmethod
    def to_clock_time(self, t: CaptureTime) -> int:
        """Map a raw hardware timestamp into this clock's time, ns.

        Raises
        ------
        ClockError
            The clock cannot map that domain (no calibration for it).
        """

    @abc.abstractmethod
    def wait_until(self, t: int, cancel: threading.Event | None = None) -> bool:
        """Block until this clock reaches ``t`` (ns, this clock's time).

        Returns
        -------
        bool
            True when ``t`` was reached, False when ``cancel`` was set first (at once if it is
            already set).
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} resolution={self.resolution} ns>"


@runtime_checkable
class ClockProvider(Protocol):
    """An element that can provide the pipeline clock (an audio sink, a sound card source)."""

    def provide_clock(self) -> Clock | None:
        """Return the clock, or None if it cannot provide one right now."""

    def clock_priority(self) -> int:
        """0-99 software, 100-199 audio hardware, 200-299 NTP, 300+ PTP."""


def select_clock(providers: Iterable[ClockProvider]) -> tuple[Clock, ClockProvider | None]:
    """Pick the pipeline clock.

    The provider with the highest `ClockProvider.clock_priority` wins; ties go to the first
    one given (the most upstream); a provider whose `ClockProvider.provide_clock` returns None
    is skipped. With no clock the `SystemClock` is the fallback.

    Parameters
    ----------
    providers : iterable of ClockProvider
        In upstream-to-downstream order.

    Returns
    -------
    clock : Clock
    provider : ClockProvider or None
        The provider that gave it, None for the fallback.
    """
    from parallax.clock.system import SystemClock

    ranked = sorted(enumerate(providers), key=lambda item: (-item[1].clock_priority(), item[0]))
    for _, provider in ranked:
        clock = provider.provide_clock()
        if clock is not None:
            return clock, provider
    return SystemClock(), None
