"""`AlsaClock`: a pipeline clock that advances with a sound card's crystal."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from parallax.clock.calibrated import CalibratedClock
from parallax.clock.system import _POSIX_CLOCKS, monotonic_offset
from parallax.drift import DriftStatus
from parallax.errors import ClockError
from parallax.time import MSECOND, SECOND, CaptureTime, ClockDomain, sample_time

PAIR_SPACING = 50 * MSECOND
"""MONOTONIC ns between two calibration pairs: the estimator's 1024-point window then spans
51 s, so pointer jitter of a few ms weighs little on the fitted rate."""


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


class AlsaClock(CalibratedClock):
    """The time of a sound card: frames played (or captured) converted to ns.

    A `CalibratedClock` whose internal time is the card's: while the card's stream runs, it
    is the device time of the frame at the card right now, the stream's start time plus
    ``frames * SECOND / rate`` (exact), so it advances with the card's crystal, not the
    CPU's. The time origin is ``CLOCK_MONOTONIC``'s: before the card was first observed the
    clock reads ``CLOCK_MONOTONIC``; whenever no stream runs (before start, after an xrun,
    after the device closed) it runs on from its calibration, and a new stream starts at the
    clock's time at its trigger, so the clock never jumps and never goes back.

    The calibration `monotonic` (MONOTONIC -> card time, a `DriftEstimator`) learns from the
    driver's own pairs: each position's htstamp with the card time at it, one every
    `PAIR_SPACING`. It maps MONOTONIC capture times (video, other sources) into the clock and
    reports the card's drift (``clock.monotonic.ppm``). Like any `CalibratedClock` it can
    follow a master (`set_master`).

    Parameters
    ----------
    device : str
        The ALSA device name (``hw:Dummy,0,0``); the clock is called ``alsa:DEVICE``.
    probe : callable
        Returns the stream's `DevicePosition`, or None when no stream runs. Called from any
        thread; it must not block.
    read_monotonic : callable
        Returns ``CLOCK_MONOTONIC`` ns (tests pass `ManualClock.now`).
    """

    def __init__(
        self,
        device: str,
        probe: Callable[[], DevicePosition | None],
        *,
        read_monotonic: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        super().__init__(f"alsa:{device}", self._read_card, read_monotonic=read_monotonic)
        self.resolution = MSECOND
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

    def _read_card(self) -> int:
        return self.observe_position(self._probe() if self._rate else None)

    def observe(self) -> DriftStatus:
        """Calibrate with the card's position now (the driver pairs it with its htstamp).

        Raises
        ------
        ClockError
            No stream runs.
        """
        _, status = self._update(self._probe() if self._rate else None, always=True)
        if status is None:
            raise ClockError(f"{self.name}: no new card position to observe (no stream runs?)")
        return status

    def observe_position(self, position: DevicePosition | None) -> int:
        """Take a stream position read elsewhere (a capture read's status) and return the
        card's (internal) time at it, ns: the calibration learns from reads as well as from
        `now`. None (no stream runs) returns the calibrated run-on time.
        """
        return self._update(position, always=False)[0]

    def _update(
        self, position: DevicePosition | None, *, always: bool
    ) -> tuple[int, DriftStatus | None]:
        # The card time at the position, and the calibration's verdict on the pair if one
        # was added (always, or once per PAIR_SPACING).
        status = None
        with self._lock:
            if position is None or position.tstamp_ns <= 0 or position.trigger_ns <= 0:
                value = self.monotonic_to_internal(self._read_monotonic())
            else:
                if position.trigger_ns != self._trigger:  # a new stream: continue the time
                    self._trigger = position.trigger_ns
                    self._epoch = self.monotonic_to_internal(position.trigger_ns)
                value = self._epoch + sample_time(position.frames, self._rate)
                last = self._last_pair
                if last is None or position.tstamp_ns - last >= (1 if always else PAIR_SPACING):
                    status = self.monotonic.add(position.tstamp_ns, value)
                    self._last_pair = position.tstamp_ns
            # A device reading can lag the calibrated run-on by a pointer step: hold, not back.
            if value < self._last:
                value = self._last
            self._last = value
            return value, status

    def monotonic_to_internal(self, monotonic_ns: int) -> int:
        """Map a MONOTONIC time to the card's time, ns: identity until the card was observed
        (the clock's time is CLOCK_MONOTONIC's until then), then through the calibration.
        """
        if not self.monotonic.observed:
            return monotonic_ns
        return self.monotonic.to_remote(monotonic_ns)

    def to_clock_time(self, t: CaptureTime) -> int:
        """Map a raw timestamp into this clock through the MONOTONIC calibration.

        Other POSIX clocks (REALTIME, BOOTTIME, ...) are first moved to MONOTONIC by their
        current offset.

        Raises
        ------
        ClockError
            DEVICE and UNKNOWN timestamps (no relation to MONOTONIC is known).
        """
        if t.domain in _POSIX_CLOCKS:
            t = CaptureTime(ClockDomain.MONOTONIC, t.ns - monotonic_offset(_POSIX_CLOCKS[t.domain]))
        elif t.domain is not ClockDomain.MONOTONIC:
            raise ClockError(
                f"{self.name}: cannot map a {t.domain.value} timestamp; the source must "
                "give MONOTONIC (or another POSIX clock's) times"
            )
        return super().to_clock_time(t)
