"""`AlsaClock`: a pipeline clock that advances with a sound card's crystal."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from parallax.clock.base import Clock, ClockFlags
from parallax.clock.calibration import Calibration
from parallax.clock.system import _POSIX_CLOCKS, monotonic_offset
from parallax.errors import ClockError
from parallax.time import MSECOND, SECOND, USECOND, CaptureTime, ClockDomain, sample_time

PAIR_SPACING = 50 * MSECOND
"""MONOTONIC ns between two calibration pairs: spreads the window over seconds, so pointer
jitter of a few ms weighs little on the fitted rate."""


class DevicePosition(NamedTuple):
    """Where a running PCM stream is, from one ``snd_pcm_status()``.

    Attributes
    ----------
    tstamp_ns : int
        MONOTONIC ns at which the hardware position was read (the status htstamp).
    trigger_ns : int
        MONOTONIC ns at which the stream started (frames counts from there).
    frames : int
        Frames since the stream started that the card has played (frames written minus
        delay) or captured (frames read plus avail) at ``tstamp_ns``.
    """

    tstamp_ns: int
    trigger_ns: int
    frames: int


class AlsaClock(Clock):
    """The time of a sound card: frames played (or captured) converted to ns.

    While the card's stream runs, `now` is the device time of the frame at the card right
    now: the stream's start time plus ``frames * SECOND / rate`` (exact), so it advances with
    the card's crystal, not the CPU's. The time origin is ``CLOCK_MONOTONIC``'s: before the
    first stream starts the clock reads ``CLOCK_MONOTONIC``; whenever no stream runs (before
    start, after an xrun, after the device closed) it runs on from its calibration, and a
    new stream starts at the clock's time at its trigger, so the clock never jumps and never
    goes back.

    The calibration (`Calibration`, a line through (MONOTONIC, device) pairs taken every
    `PAIR_SPACING`) maps MONOTONIC capture times (video, other sources) into this clock.

    Parameters
    ----------
    device : str
        The ALSA device name (``hw:Dummy,0,0``); the clock is called ``alsa:DEVICE``.
    probe : callable
        Returns the stream's `DevicePosition`, or None when no stream runs. Called from any
        thread; it must not block.
    """

    flags = ClockFlags.CAN_BE_MASTER | ClockFlags.HARDWARE | ClockFlags.REALTIME

    def __init__(self, device: str, probe: Callable[[], DevicePosition | None]) -> None:
        self.name = f"alsa:{device}"
        self.resolution = MSECOND
        self.calibration = Calibration()
        self._probe = probe
        self._rate = 0
        self._lock = threading.Lock()
        self._last = 0
        self._trigger: int | None = None
        self._epoch = 0
        self._last_pair: int | None = None

    def configure(self, rate: int, period_frames: int) -> None:
        """Set the stream's rate (Hz) and period (frames): the resolution is one period."""
        self._rate = rate
        self.resolution = -(-period_frames * SECOND // rate)

    def now(self) -> int:
        """Return the card's time now, ns (this clock's time; origin CLOCK_MONOTONIC's)."""
        return self.observe(self._probe() if self._rate else None)

    def observe(self, position: DevicePosition | None) -> int:
        """Take a stream position read elsewhere (a capture read's status) and return the
        clock's time at it, ns: the calibration learns from reads as well as from `now`.
        """
        with self._lock:
            if position is None or position.tstamp_ns <= 0 or position.trigger_ns <= 0:
                value = self.calibration.to_device(time.monotonic_ns())
            else:
                if position.trigger_ns != self._trigger:  # a new stream: continue the time
                    self._trigger = position.trigger_ns
                    self._epoch = self.calibration.to_device(position.trigger_ns)
                value = self._epoch + sample_time(position.frames, self._rate)
                last_pair = self._last_pair
                if last_pair is None or position.tstamp_ns - last_pair >= PAIR_SPACING:
                    self.calibration.add(position.tstamp_ns, value)
                    self._last_pair = position.tstamp_ns
            # A device reading can lag the calibrated run-on by a pointer step: hold, not back.
            if value < self._last:
                value = self._last
            self._last = value
            return value

    def to_clock_time(self, t: CaptureTime) -> int:
        """Map a raw timestamp into this clock through the MONOTONIC calibration.

        Raises
        ------
        ClockError
            DEVICE and UNKNOWN timestamps (no relation to MONOTONIC is known).
        """
        if t.domain is ClockDomain.MONOTONIC:
            monotonic = t.ns
        elif t.domain in _POSIX_CLOCKS:
            monotonic = t.ns - monotonic_offset(_POSIX_CLOCKS[t.domain])
        else:
            raise ClockError(
                f"{self.name}: cannot map a {t.domain.value} timestamp; the source must "
                "give MONOTONIC (or another POSIX clock's) times"
            )
        with self._lock:
            return self.calibration.to_device(monotonic)

    def wait_until(self, t: int, cancel: threading.Event | None = None) -> bool:
        """Sleep until the card's time reaches ``t`` ns; False if ``cancel`` is set first.

        Sleeps until the calibrated MONOTONIC time of ``t``, then checks the card; a card
        whose pointer moves in steps may need a few more short sleeps (at most one period
        late).
        """
        while True:
            if cancel is not None and cancel.is_set():
                return False
            if self.now() >= t:
                return True
            with self._lock:
                target = self.calibration.to_monotonic(t)
            # A sleep length in float seconds is the OS interface; no timestamp is a float.
            remaining = max(target - time.monotonic_ns(), 500 * USECOND) / SECOND
            if cancel is None:
                time.sleep(remaining)
            elif cancel.wait(remaining):
                return False
