"""Which time a V4L2 frame was captured at: clock domain, bogus timestamps, sequence gaps.

`FrameTimestamps` is pure (no device, no clock): it turns the fields of each dequeued
``v4l2_buffer`` (flags, sequence, timestamp) and the dequeue time into the capture time to
map to running time, the buffer flags and the warnings to post. `V4l2Src` feeds it; the unit
tests feed it recorded sequences.
"""

from __future__ import annotations

import dataclasses
import enum

from parallax.buffer import BufferFlags
from parallax.errors import TimestampError
from parallax.time import SECOND, CaptureTime, ClockDomain, format_time

# v4l2_buffer.flags (linux/videodev2.h)
BUF_FLAG_ERROR = 0x0000_0040
TIMESTAMP_MASK = 0x0000_E000
TIMESTAMP_UNKNOWN = 0x0000_0000
TIMESTAMP_MONOTONIC = 0x0000_2000
TIMESTAMP_COPY = 0x0000_4000
TSTAMP_SRC_MASK = 0x0007_0000
TSTAMP_SRC_EOF = 0x0000_0000
TSTAMP_SRC_SOE = 0x0001_0000

_SEQUENCE_MODULO = 1 << 32  # v4l2_buffer.sequence is a __u32 and wraps


class TimestampPolicy(enum.Enum):
    """What to do with a driver timestamp that cannot be right (zero, going backwards, or far
    in the future of the moment the frame was dequeued). Every policy posts a warning.
    """

    DRIVER = "driver"
    """Use it anyway: PTS are exactly the driver's, bogus ones included."""
    REPAIR = "repair"
    """Replace it (see `FrameTimestamps`) and flag the buffer RESYNC."""
    STRICT = "strict"
    """Raise `TimestampError`: the capture stops."""


class TimestampSource(enum.Enum):
    """When in a frame's life the driver took its timestamp (``V4L2_BUF_FLAG_TSTAMP_SRC_*``)."""

    END_OF_FRAME = "end-of-frame"
    """EOF: when the last pixel arrived (the default)."""
    START_OF_EXPOSURE = "start-of-exposure"
    """SOE: when the exposure of the frame began."""


def timestamp_domain(flags: int) -> ClockDomain:
    """The clock domain of ``v4l2_buffer.timestamp`` named by ``flags``.

    MONOTONIC is CLOCK_MONOTONIC. COPY (the timestamp was copied from an output buffer by a
    memory-to-memory device) and UNKNOWN say nothing about a clock: `ClockDomain.UNKNOWN`.
    """
    if flags & TIMESTAMP_MASK == TIMESTAMP_MONOTONIC:
        return ClockDomain.MONOTONIC
    return ClockDomain.UNKNOWN


def timestamp_source(flags: int) -> TimestampSource:
    """The timestamp source named by ``flags`` (EOF unless SOE is set)."""
    if flags & TSTAMP_SRC_MASK == TSTAMP_SRC_SOE:
        return TimestampSource.START_OF_EXPOSURE
    return TimestampSource.END_OF_FRAME


@dataclasses.dataclass(frozen=True, slots=True)
class FrameTiming:
    """The timing of one dequeued frame.

    Attributes
    ----------
    capture : CaptureTime
        The driver's timestamp as it came (ns, in the domain the buffer flags name): what
        ``meta.capture`` keeps.
    time : CaptureTime
        The capture time to map to running time (``context.to_running_time``), always
        CLOCK_MONOTONIC ns: the driver's timestamp, or a repaired one, or the dequeue time.
    flags : BufferFlags
        DISCONT after a sequence gap; RESYNC when ``time`` is not the driver's timestamp;
        CORRUPTED when the driver flagged the buffer with an error.
    position : int
        Frame number since the stream started, counting the frames the driver dropped.
    dropped : int
        Frames the driver dropped just before this one (from the sequence gap).
    warnings : tuple of str
        What to post on the bus about this frame (each problem once; then it is counted).
    """

    capture: CaptureTime
    time: CaptureTime
    flags: BufferFlags
    position: int
    dropped: int
    warnings: tuple[str, ...]


class FrameTimestamps:
    """Turns each dequeued ``v4l2_buffer``'s timing into a `FrameTiming`, in dequeue order.

    * **Domain.** ``TIMESTAMP_MONOTONIC`` timestamps are CLOCK_MONOTONIC and are used as
      they are. ``TIMESTAMP_COPY`` and ``TIMESTAMP_UNKNOWN`` ones are kept in
      ``FrameTiming.capture`` (domain UNKNOWN), but the frame is timed by its dequeue time,
      flagged RESYNC, with one warning (``strict`` raises instead: no driver time to trust).
    * **Bogus timestamps** (of a MONOTONIC stream): *zero*; *backwards*, not later than the
      previous frame's time; *far future*, more than ``future_tolerance`` after the dequeue
      time (a driver can stamp a frame a little after it is dequeued: vivid's end-of-frame
      stamps lead by up to ~0.9 frame). Handled by ``policy``: ``driver`` keeps it,
      ``repair`` uses ``max(dequeue time, previous time + one frame interval)`` and flags
      RESYNC, ``strict`` raises `TimestampError`. The first problem of each kind is warned
      about; `problems` counts all of them.
    * **Sequence.** A step of more than one in ``v4l2_buffer.sequence`` (mod 2**32) means
      the driver dropped frames: the frame gets DISCONT, `dropped_frames` grows, the first gap
      is warned about. A step back (the driver restarted its count) gives DISCONT and a
      warning, no drop; a repeated number (vivid does it under load) a warning only.

    Parameters
    ----------
    device : str
        For messages.
    policy : TimestampPolicy
    frame_duration : int or None
        The negotiated frame interval, ns (None: variable rate).
    future_tolerance : int, optional
        ns a timestamp may lie after the dequeue time before it is bogus; default the larger
        of 1 s and two frame intervals.
    """

    def __init__(
        self,
        device: str,
        policy: TimestampPolicy,
        frame_duration: int | None,
        future_tolerance: int | None = None,
    ) -> None:
        self.device = device
        self.policy = policy
        self.frame_duration = frame_duration
        self.future_tolerance = (
            future_tolerance
            if future_tolerance is not None
            else max(SECOND, 2 * (frame_duration or 0))
        )
        self.dropped_frames = 0
        """Frames the driver dropped (sum of the sequence gaps)."""
        self.problems: dict[str, int] = {}
        """Count of each timestamp problem seen: ``zero``, ``backwards``, ``far-future``,
        ``not-monotonic-clock``, ``sequence-repeat``, ``sequence-restart``."""
        self.domain: ClockDomain | None = None
        """Domain of the last frame's driver timestamp."""
        self.source: TimestampSource | None = None
        """Timestamp source of the last frame."""
        self._last_time: int | None = None
        self._last_sequence: int | None = None
        self._position = -1
        self._gap_warned = False

    def stamp(self, flags: int, sequence: int, timestamp: int, dequeued: int) -> FrameTiming:
        """Time one frame.

        Parameters
        ----------
        flags : int
            ``v4l2_buffer.flags``.
        sequence : int
            ``v4l2_buffer.sequence``.
        timestamp : int
            ``v4l2_buffer.timestamp`` in ns (domain per ``flags``).
        dequeued : int
            CLOCK_MONOTONIC ns when VIDIOC_DQBUF returned it.

        Raises
        ------
        TimestampError
            Under the ``strict`` policy, for a bogus or non-MONOTONIC timestamp.
        """
        warnings: list[str] = []
        buffer_flags = BufferFlags.NONE
        if flags & BUF_FLAG_ERROR:
            buffer_flags |= BufferFlags.CORRUPTED
        domain = timestamp_domain(flags)
        self.domain = domain
        self.source = timestamp_source(flags)

        dropped, restarted = self._sequence_step(sequence, warnings)
        if dropped or restarted:
            buffer_flags |= BufferFlags.DISCONT

        if domain is ClockDomain.MONOTONIC:
            time = timestamp
            problem = self._check(timestamp, dequeued)
            if problem is not None:
                time = self._handle(problem, sequence, timestamp, dequeued, warnings)
                if time != timestamp:
                    buffer_flags |= BufferFlags.RESYNC
        else:
            kind = "COPY" if flags & TIMESTAMP_MASK == TIMESTAMP_COPY else "UNKNOWN"
            if self.policy is TimestampPolicy.STRICT:
                raise TimestampError(
                    f"{self.device}: frame {sequence}: the driver's timestamps are "
                    f"TIMESTAMP_{kind}, not CLOCK_MONOTONIC (timestamp-policy=strict; use "
                    "repair or driver to time frames by their dequeue time)"
                )
            if self._count("not-monotonic-clock"):
                warnings.append(
                    f"{self.device}: the driver's timestamps are TIMESTAMP_{kind}, not "
                    "CLOCK_MONOTONIC: frames are timed by when they were dequeued (RESYNC)"
                )
            time = self._after_last(dequeued)
            buffer_flags |= BufferFlags.RESYNC
        self._last_time = time
        return FrameTiming(
            capture=CaptureTime(domain, timestamp),
            time=CaptureTime(ClockDomain.MONOTONIC, time),
            flags=buffer_flags,
            position=self._position,
            dropped=dropped,
            warnings=tuple(warnings),
        )

    def _sequence_step(self, sequence: int, warnings: list[str]) -> tuple[int, bool]:
        """Advance the position; return (frames dropped before this one, count restarted)."""
        last, self._last_sequence = self._last_sequence, sequence
        if last is None:
            self._position = 0
            return 0, False
        step = (sequence - last) % _SEQUENCE_MODULO
        if step == 0:
            # seen from vivid under load: a new frame with the previous frame's number
            self._position += 1
            if self._count("sequence-repeat"):
                warnings.append(
                    f"{self.device}: two frames in a row have sequence {sequence}; frames "
                    "are counted on (positions stay increasing)"
                )
            return 0, False
        if step >= _SEQUENCE_MODULO // 2:
            self._position += 1
            if self._count("sequence-restart"):
                warnings.append(
                    f"{self.device}: frame sequence went back from {last} to {sequence}; the "
                    "driver restarted its count (DISCONT)"
                )
            return 0, True
        self._position += step
        dropped = step - 1
        if dropped:
            self.dropped_frames += dropped
            if not self._gap_warned:
                self._gap_warned = True
                warnings.append(
                    f"{self.device}: the driver dropped {dropped} frame(s) before frame "
                    f"{sequence} (sequence {last} -> {sequence}); further drops are counted "
                    "and flagged DISCONT"
                )
        return dropped, False

    def _check(self, timestamp: int, dequeued: int) -> str | None:
        if timestamp == 0:
            return "zero"
        if self._last_time is not None and timestamp <= self._last_time:
            return "backwards"
        if timestamp > dequeued + self.future_tolerance:
            return "far-future"
        return None

    def _handle(
        self, problem: str, sequence: int, timestamp: int, dequeued: int, warnings: list[str]
    ) -> int:
        what = {
            "zero": "is zero",
            "backwards": f"is not after the previous frame's {format_time(self._last_time)}",
            "far-future": (
                f"lies {format_time(timestamp - dequeued)} after the frame was dequeued"
            ),
        }[problem]
        text = f"{self.device}: frame {sequence}: driver timestamp {format_time(timestamp)} {what}"
        if self.policy is TimestampPolicy.STRICT:
            raise TimestampError(f"{text} (timestamp-policy=strict)")
        if self._count(problem):
            action = (
                "kept (timestamp-policy=driver)"
                if self.policy is TimestampPolicy.DRIVER
                else "replaced by the dequeue time or one frame interval after the previous "
                "frame, whichever is later (RESYNC, timestamp-policy=repair)"
            )
            warnings.append(f"{text}; {action}; further ones are counted")
        if self.policy is TimestampPolicy.DRIVER:
            return timestamp
        return self._after_last(dequeued)

    def _after_last(self, dequeued: int) -> int:
        """The dequeue time, but at least one frame interval (1 ns at variable rate) after the
        previous frame, so repaired times keep increasing.
        """
        if self._last_time is None:
            return dequeued
        return max(dequeued, self._last_time + (self.frame_duration or 1))

    def _count(self, problem: str) -> bool:
        """Count a problem; True the first time (warn then)."""
        seen = self.problems.get(problem, 0)
        self.problems[problem] = seen + 1
        return seen == 0

    def summary(self) -> str | None:
        """One line on what went wrong over the whole stream, or None when nothing did."""
        parts = [f"{count} {problem}" for problem, count in self.problems.items()]
        if self.dropped_frames:
            parts.insert(0, f"{self.dropped_frames} frame(s) dropped by the driver")
        if not parts:
            return None
        return f"{self.device}: {', '.join(parts)} (timestamp-policy={self.policy.value})"
