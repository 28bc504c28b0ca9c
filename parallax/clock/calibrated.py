"""Calibrations between two clocks, and clocks that follow another clock.

`Calibration`
    The mapping between a *local* clock (the one read alongside: usually ``CLOCK_MONOTONIC``)
    and a *remote* clock (a sound card, a PipeWire graph, a master clock), fitted by a
    `DriftEstimator` from observation pairs. Hardware clocks (AlsaClock, a PipeWire clock)
    keep one to map MONOTONIC capture times into their own time and back.
`CalibratedClock`
    A clock whose own time comes from an internal counter (a device position in ns) and
    which can follow a master clock (``ClockFlags.CAN_SET_MASTER``, like
    ``gst_clock_set_master``): periodic (internal, master) observations calibrate it, and
    `CalibratedClock.now` then returns the master's time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from parallax.clock.base import Clock, ClockFlags
from parallax.drift import DriftEstimator, DriftStatus
from parallax.errors import ClockError
from parallax.time import MSECOND, USECOND, CaptureTime, ClockDomain, format_time

__all__ = ["CalibratedClock", "Calibration"]

WAIT_STEP = 500 * USECOND
"""Shortest sleep of `CalibratedClock.wait_until`, ns."""


class Calibration:
    """The fitted relation between a local and a remote clock, both in int ns.

    Feed observation pairs read as close together as possible with `add` (or let `observe`
    read them); map with `to_remote` / `to_local`. Before the estimator is calibrated (fewer
    than 2 accepted observations, or all at one local time) the mapping uses rate 1 and the
    offset of the newest accepted observation, as GStreamer does; with no observation at all
    it raises `ClockError`. Thread-safe.

    Parameters
    ----------
    name : str
        Names the clock pair in errors (``"alsa:hw:0 vs monotonic"``).
    **estimator : int or float
        `DriftEstimator` options (``max_points``, ``max_span_ns``, ``outlier_k``,
        ``outlier_floor_ns``, ``jump_ns``, ``jump_confirm``).

    Examples
    --------
    >>> cal = Calibration("card vs monotonic")
    >>> for k in range(20):  # the card runs 80 ppm fast and started 1 s after boot
    ...     mono = 10**9 + k * 100_000_000
    ...     status = cal.add(mono, k * 100_008_000)
    >>> round(cal.ppm, 3), cal.to_remote(3 * 10**9)
    (80.0, 2000160000)
    >>> cal.to_local(2000160000)
    3000000000
    """

    def __init__(self, name: str = "calibration", **estimator: int | float) -> None:
        self.name = name
        self.estimator = DriftEstimator(**estimator)  # type: ignore[arg-type]
        self._lock = threading.Lock()
        self._last: tuple[int, int] | None = None

    def add(self, local_ns: int, remote_ns: int) -> DriftStatus:
        """Add one observation: the local and remote clocks read at the same moment, ns.

        Returns
        -------
        DriftStatus
            ACCEPTED, OUTLIER (ignored by the fit) or DISCONTINUITY (the remote clock
            stepped: the fit restarted from the newest points).

        Raises
        ------
        TypeError, OverflowError, ValueError
            As `DriftEstimator.add` (not an int; outside int64; local time going back).
        """
        with self._lock:
            status = self.estimator.add(local_ns, remote_ns)
            if status is not DriftStatus.OUTLIER:
                self._last = (local_ns, remote_ns)
            return status

    def observe(self, read_local: Callable[[], int], read_remote: Callable[[], int]) -> DriftStatus:
        """Read both clocks and `add` the pair.

        The remote clock is read between two local reads and paired with their midpoint,
        so a preemption between the reads costs at most half the gap (and a long gap shows
        up as an outlier the estimator rejects).
        """
        before = read_local()
        remote = read_remote()
        after = read_local()
        return self.add((before + after) // 2, remote)

    def reset(self) -> None:
        """Forget every observation."""
        with self._lock:
            self.estimator.reset()
            self._last = None

    @property
    def calibrated(self) -> bool:
        """True once the fit has a rate (2 accepted observations at different local times)."""
        return self.estimator.calibrated

    @property
    def observed(self) -> bool:
        """True once an observation was accepted (the mapping works, maybe with rate 1)."""
        return self._last is not None

    @property
    def ppm(self) -> float | None:
        """Remote rate minus local rate, parts per million (None before calibration)."""
        return self.estimator.ppm

    @property
    def rate(self) -> float | None:
        """Remote ns per local ns (None before calibration)."""
        return self.estimator.rate

    @property
    def jitter_ns(self) -> float | None:
        """Robust standard deviation of the observations around the fit, ns."""
        return self.estimator.jitter_ns

    def to_remote(self, local_ns: int) -> int:
        """Map a local time (ns) to the remote clock's time (ns, nearest).

        Raises
        ------
        ClockError
            No observation yet.
        """
        with self._lock:
            mapped = self.estimator.to_remote(local_ns)
            if mapped is not None:
                return mapped
            return local_ns + self._offset()

    def to_local(self, remote_ns: int) -> int:
        """Map a remote time (ns) to the local clock's time (ns, nearest).

        Raises
        ------
        ClockError
            No observation yet.
        """
        with self._lock:
            mapped = self.estimator.to_local(remote_ns)
            if mapped is not None:
                return mapped
            return remote_ns - self._offset()

    def _offset(self) -> int:
        if self._last is None:
            raise ClockError(
                f"{self.name}: not calibrated yet (no observation): read both clocks with "
                "observe() or add() before mapping times"
            )
        local, remote = self._last
        return remote - local

    def __repr__(self) -> str:
        ppm = self.ppm
        rate = "uncalibrated" if ppm is None else f"{ppm:+.3f} ppm"
        return f"<Calibration {self.name!r} {rate}, {self.estimator.accepted} points>"


class CalibratedClock(Clock):
    """A clock counting its own crystal (a device) that can follow a master clock.

    Its *internal* time is ``read_internal()`` (ns; for a sound card the hardware position in
    ns). A `Calibration` from ``CLOCK_MONOTONIC`` to internal time, fed by `observe`, maps
    MONOTONIC capture times into it. With no master, `now` is the internal time. After
    `set_master` (``ClockFlags.CAN_SET_MASTER``), a second calibration from internal to
    master time, fed by `observe_master` (or by `now` every ``master_interval_ns`` of internal
    time), makes `now` follow the master: the clock then reads the master's time at its own
    crystal's resolution, and `to_clock_time` maps MONOTONIC through both fits, consistently
    with `now`.

    Parameters
    ----------
    name : str
        Shown on the bus and in logs (``"alsa:hw:0"``).
    read_internal : callable
        Returns the internal time, ns (device counter; origin: the device's start).
    read_monotonic : callable
        Returns ``CLOCK_MONOTONIC`` ns (tests pass `ManualClock.now`).
    domain : ClockDomain
        The domain of capture times stamped in internal time: they map by identity.
    hardware : bool
        Advances with a device crystal (sets ``ClockFlags.HARDWARE``).
    master_interval_ns : int
        Internal ns between automatic master observations made by `now` (0: only explicit
        `observe_master` calls).
    **estimator : int or float
        `DriftEstimator` options for both calibrations.
    """

    def __init__(
        self,
        name: str,
        read_internal: Callable[[], int],
        *,
        read_monotonic: Callable[[], int] = time.monotonic_ns,
        domain: ClockDomain = ClockDomain.DEVICE,
        hardware: bool = True,
        master_interval_ns: int = 100 * MSECOND,
        **estimator: int | float,
    ) -> None:
        self.name = name
        self.resolution = 1
        self.flags = ClockFlags.CAN_BE_MASTER | ClockFlags.CAN_SET_MASTER | ClockFlags.REALTIME
        if hardware:
            self.flags |= ClockFlags.HARDWARE
        self.domain = domain
        self.master_interval_ns = master_interval_ns
        self._read_internal = read_internal
        self._read_monotonic = read_monotonic
        self._estimator_options = estimator
        self.monotonic = Calibration(f"{name} vs monotonic", **estimator)
        """MONOTONIC (local) -> internal time (remote)."""
        self.master: Clock | None = None
        self.to_master: Calibration | None = None
        """Internal time (local) -> master time (remote), while slaved."""
        self._next_master_observation = 0

    # -- calibration ------------------------------------------------------------------------

    def observe(self) -> DriftStatus:
        """Read ``CLOCK_MONOTONIC`` and the internal time together and calibrate with them."""
        return self.monotonic.observe(self._read_monotonic, self._read_internal)

    def set_master(self, master: Clock | None) -> None:
        """Follow ``master`` from now on (None: run free on the internal time again).

        Raises
        ------
        ClockError
            ``master`` is this clock, or cannot be a master (no ``CAN_BE_MASTER``).
        """
        if master is self:
            raise ClockError(f"{self.name}: a clock cannot be its own master")
        if master is not None and not master.flags & ClockFlags.CAN_BE_MASTER:
            raise ClockError(f"{self.name}: {master.name} cannot be a master clock")
        self.master = master
        self.to_master = (
            None
            if master is None
            else Calibration(f"{self.name} vs {master.name}", **self._estimator_options)
        )
        self._next_master_observation = 0

    def observe_master(self) -> DriftStatus:
        """Read the internal and master time together and calibrate with them.

        Raises
        ------
        ClockError
            No master is set.
        """
        master, calibration = self.master, self.to_master
        if master is None or calibration is None:
            raise ClockError(f"{self.name}: observe_master() without a master (set_master)")
        status = calibration.observe(self._read_internal, master.now)
        self._next_master_observation = self._read_internal() + self.master_interval_ns
        return status

    # -- Clock --------------------------------------------------------------------------------

    def internal_time(self) -> int:
        """The internal (device) time now, ns."""
        return self._read_internal()

    def now(self) -> int:
        """The clock's time, ns: the master's time while slaved, else the internal time.

        Raises
        ------
        ClockError
            Slaved, but no master observation was accepted yet.
        """
        internal = self._read_internal()
        if (
            self.to_master is not None
            and self.master_interval_ns
            and internal >= self._next_master_observation
        ):
            self.observe_master()
        return self.internal_to_clock(internal)

    def to_clock_time(self, t: CaptureTime) -> int:
        """Map a capture time into this clock's time, ns.

        MONOTONIC goes through the MONOTONIC -> internal calibration (and internal -> master
        while slaved); times in the clock's own ``domain`` are internal times.

        Raises
        ------
        ClockError
            Another domain, or a calibration without observations.
        """
        if t.domain is ClockDomain.MONOTONIC:
            internal = self.monotonic_to_internal(t.ns)
        elif t.domain is self.domain:
            internal = t.ns
        else:
            raise ClockError(
                f"{self.name}: cannot map a {t.domain.value} timestamp (only monotonic and "
                f"{self.domain.value})"
            )
        return self.internal_to_clock(internal)

    def monotonic_to_internal(self, monotonic_ns: int) -> int:
        """Map a ``CLOCK_MONOTONIC`` time to internal time through `monotonic`, ns.

        Raises
        ------
        ClockError
            No MONOTONIC observation yet (a subclass may define its time before one).
        """
        return self.monotonic.to_remote(monotonic_ns)

    def internal_to_clock(self, internal_ns: int) -> int:
        """Map an internal time to this clock's time, ns: the master's time while slaved.

        Raises
        ------
        ClockError
            Slaved, but no master observation was accepted yet.
        """
        calibration = self.to_master
        return internal_ns if calibration is None else calibration.to_remote(internal_ns)

    def wait_until(self, t: int, cancel: threading.Event | None = None) -> bool:
        """Block until `now` reaches ``t`` ns; False if ``cancel`` is set first.

        Sleeps on ``CLOCK_MONOTONIC`` for the remaining time scaled through the calibrations
        (re-checked after each wake, at least `WAIT_STEP` apart; rate 1 before
        calibration). With a test ``read_monotonic`` this still sleeps in real time: test
        code waits on a `ManualClock` instead.
        """
        while True:
            if cancel is not None and cancel.is_set():
                return False
            remaining = t - self.now()
            if remaining <= 0:
                return True
            rate = self.monotonic.rate or 1.0
            if self.to_master is not None:
                rate *= self.to_master.rate or 1.0
            # A device counter moves in steps: re-check no sooner than WAIT_STEP (a wait is at
            # most that late), not in a spin while the counter sits just short of ``t``.
            # A sleep length in float seconds is the OS interface; no timestamp is a float.
            seconds = max(remaining / rate, WAIT_STEP) / 1e9
            if cancel is None:
                time.sleep(seconds)
            elif cancel.wait(seconds):
                return False

    def __repr__(self) -> str:
        master = "" if self.master is None else f" slaved to {self.master.name!r}"
        ppm = self.monotonic.ppm
        drift = "" if ppm is None else f" {ppm:+.3f} ppm vs monotonic"
        internal = format_time(self._read_internal())
        kind = type(self).__name__
        return f"<{kind} {self.name!r}{drift}{master}, internal time {internal}>"
