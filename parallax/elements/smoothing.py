"""Source-side dejittering: ``timestamp-smoothing=none|dll|regression``.

A source whose timestamps are read late by a varying amount (ALSA without hardware
timestamps, a USB camera whose driver stamps at copy time, `appsrc` with ``do-timestamp``)
passes each buffer's time through a `TimestampSmoother`. The smoother knows the buffer's
*nominal* position (its first sample or frame in ns at the nominal rate: exact, no jitter)
and fits the measured times against it:

``none``
    Times pass unchanged.
``dll``
    A `TimeDLL` (second-order delay-locked loop, as JACK and PipeWire use): one update per
    period, so buffers must be of equal nominal length (audio periods, video frames). Locks
    within seconds, follows rate changes, cheapest.
``regression``
    A `DriftEstimator` of measured time against nominal time (long window, median-based
    outlier rejection, discontinuity detection): the smoothed time is the fit at the
    buffer's nominal position. Any buffer lengths; best when the rate is steady.

Both follow the device's true rate (they smooth the jitter, not the drift), so smoothed
times stay in the measured clock's domain and the drift stays visible downstream (for
``audioresample``). Until the fit has two points the measured time passes unchanged.

Use in a source (v4l2src, alsasrc on their branches do the same)::

    timestamp_smoothing = Property(str, "none", "...", choices=SMOOTHING_MODES)

    def start(self, context):
        self._smoother = TimestampSmoother(self.timestamp_smoothing, self.name)

    def produce(self, context):
        ...  # capture: CaptureTime(MONOTONIC, ns) of the period's first sample
        smoothed = self._smoother.smooth(capture.ns, sample_time(position, rate),
                                         sample_time(position + frames, rate))
        pts = context.to_running_time(CaptureTime(capture.domain, smoothed))
        meta = Metadata(pts=pts, ..., capture=capture)  # the raw time stays on the buffer
"""

from __future__ import annotations

from parallax.drift import DriftEstimator, DriftStatus, TimeDLL
from parallax.errors import TimestampError

__all__ = ["SMOOTHING_MODES", "TimestampSmoother"]

SMOOTHING_MODES = ("none", "dll", "regression")


class TimestampSmoother:
    """Smooth the measured times of a stream of buffers against their nominal positions.

    Parameters
    ----------
    mode : {"none", "dll", "regression"}
        See the module docs.
    element : str
        Element name for error messages.

    Attributes
    ----------
    resets : int
        Times the fit restarted (DLL: an error beyond one period; regression: a
        discontinuity of the measured clock).
    """

    def __init__(self, mode: str, element: str = "?") -> None:
        if mode not in SMOOTHING_MODES:
            raise ValueError(
                f"{element}: timestamp-smoothing={mode!r}: expected one of "
                f"{', '.join(SMOOTHING_MODES)}"
            )
        self.mode = mode
        self.element = element
        self.resets = 0
        self._dll: TimeDLL | None = None
        self._estimator = DriftEstimator() if mode == "regression" else None
        self._period = 0

    def reset(self) -> None:
        """Forget the stream (after a discontinuity the source knows about, or a restart)."""
        self._dll = None
        self._period = 0
        if self._estimator is not None:
            self._estimator.reset()

    def smooth(self, measured_ns: int, nominal_ns: int, nominal_end_ns: int) -> int:
        """The smoothed time of one buffer, ns, in the domain of ``measured_ns``.

        Parameters
        ----------
        measured_ns : int
            The measured (jittery) time of the buffer's first sample or frame, ns, in any
            one clock domain (raw capture time or running time).
        nominal_ns, nominal_end_ns : int
            The buffer's first and one-past-last sample (or frame) position at the nominal
            rate, ns from the stream's start (``sample_time(position, rate)``): exact.

        Raises
        ------
        TimestampError
            ``dll`` with a buffer whose nominal length differs from the first buffer's
            (the loop needs equal periods), or a nominal position that goes back.
        """
        if self.mode == "none":
            return measured_ns
        if self._estimator is not None:
            try:
                status = self._estimator.add(nominal_ns, measured_ns)
            except ValueError as error:
                raise TimestampError(f"{self.element}: timestamp smoothing: {error}") from None
            self.resets += status is DriftStatus.DISCONTINUITY
            smoothed = self._estimator.to_remote(nominal_ns)
            return measured_ns if smoothed is None else smoothed
        period = nominal_end_ns - nominal_ns
        if self._dll is None:
            if period <= 0:
                raise TimestampError(
                    f"{self.element}: timestamp-smoothing=dll needs buffers with a length "
                    f"(got {period} ns)"
                )
            self._dll = TimeDLL(period)
            self._period = period
        elif abs(period - self._period) > 1:  # exact sample times round by up to 1 ns
            raise TimestampError(
                f"{self.element}: timestamp-smoothing=dll needs buffers of equal length "
                f"({self._period} ns, then {period} ns); use timestamp-smoothing=regression"
            )
        resets = self._dll.resets
        smoothed = self._dll.update(measured_ns)
        self.resets += self._dll.resets - resets
        return smoothed
