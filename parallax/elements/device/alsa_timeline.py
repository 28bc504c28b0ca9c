"""`CaptureTimeline`: sample-accurate PTS for an ALSA capture stream (pure logic, no device).

Kept apart from the element so the anchoring, overrun and missing-timestamp rules can be
tested on recorded sequences of (frames, htstamp, avail) without a sound card.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from parallax.buffer import BufferFlags
from parallax.time import SECOND, CaptureTime, ClockDomain, sample_time


class Stamp(NamedTuple):
    """Timing of one captured buffer.

    Attributes
    ----------
    pts, duration : int
        Running time of the buffer's first sample and until the next buffer's PTS, ns.
    offset, offset_end : int
        Stream position (frames since the stream's first sample, lost frames included) of
        the first and one past the last frame.
    flags : BufferFlags
        DISCONT on the first buffer and after an overrun; RESYNC when the anchor came from
        CLOCK_MONOTONIC because the driver gave no timestamp.
    capture : CaptureTime
        MONOTONIC ns at which this buffer's first sample was captured, measured from this
        read's own htstamp (so it jitters around the PTS, which tiles exactly).
    lost : int
        Frames lost just before this buffer (an overrun), 0 otherwise.
    """

    pts: int
    duration: int
    offset: int
    offset_end: int
    flags: BufferFlags
    capture: CaptureTime
    lost: int


class CaptureTimeline:
    """Turn successive reads of a capture PCM into exact, tiling buffer times.

    **Anchor.** ALSA's htstamp of a read is the MONOTONIC time at which the hardware
    position was last updated; at that instant ``frames read so far + avail`` frames had been
    captured. So frame ``p`` of the stream (since its start) was captured at ``htstamp -
    (read + avail - p) / rate``. The first read fixes the capture time of frame 0 (the
    *anchor*), maps it to running time once, and every buffer's PTS is ``anchor +
    floor(position * SECOND / rate)``: consecutive buffers tile exactly (``pts + duration ==
    next pts``), whatever the rate.

    **Overrun.** After an xrun (`xrun`), the stream restarts at a new frame 0; the next read
    anchors again from its htstamp, so the time that was not captured shows as a gap in the
    PTS. The buffer is flagged DISCONT, and the frames lost (the gap times the rate, rounded)
    are counted and added to the stream position.

    **No timestamp.** Some plugins (pulse, pipewire) give a zero htstamp. The anchor then
    comes from CLOCK_MONOTONIC taken right after the read, minus the frames still buffered
    (``avail``): later by the scheduling delay. Such buffers carry RESYNC.

    Parameters
    ----------
    rate : int
        Frames per second, > 0.
    to_running : callable
        Maps a MONOTONIC ns to pipeline running time ns (``context.to_running_time``); called
        once per anchor.
    """

    def __init__(self, rate: int, to_running: Callable[[int], int]) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0 frames per second, got {rate}")
        self.rate = rate
        self._to_running = to_running
        self.position = 0
        """Stream position of the next frame (lost frames included)."""
        self.lost_frames = 0
        """Frames lost in overruns so far."""
        self.xruns = 0
        """Overruns so far."""
        self.untimed_reads = 0
        """Reads whose htstamp was zero (anchored from CLOCK_MONOTONIC)."""
        self._anchor_running: int | None = None  # running time of the segment's frame 0
        self._anchor_capture = 0  # MONOTONIC ns of the segment's frame 0
        self._segment_read = 0  # frames read since the segment's frame 0
        self._end_capture: int | None = None  # MONOTONIC ns just after the last frame read

    def xrun(self) -> None:
        """The stream overran and was prepared again: the next read starts a new segment."""
        self.xruns += 1
        self._anchor_running = None
        self._segment_read = 0

    def stamp(self, frames: int, htstamp_ns: int, avail: int, monotonic_ns: int) -> Stamp:
        """Time the buffer of ``frames`` just read.

        Parameters
        ----------
        frames : int
            Frames in this read, > 0.
        htstamp_ns : int
            The status htstamp right after the read, MONOTONIC ns; 0 when the driver gave
            none.
        avail : int
            Frames available to read at ``htstamp_ns`` (after this read).
        monotonic_ns : int
            CLOCK_MONOTONIC right after the status: the fallback when ``htstamp_ns`` is 0.
        """
        rate = self.rate
        flags = BufferFlags.NONE
        if htstamp_ns > 0:
            reference = htstamp_ns
        else:
            reference = monotonic_ns
            flags |= BufferFlags.RESYNC
            self.untimed_reads += 1
        read_after = self._segment_read + frames
        # Capture time of this buffer's first frame, from this read's own timestamp.
        capture = reference - sample_time(frames + avail, rate)
        lost = 0
        if self._anchor_running is None:
            flags |= BufferFlags.DISCONT
            anchor = reference - sample_time(read_after + avail, rate)
            if self._end_capture is not None:
                gap = anchor - self._end_capture
                lost = max(0, (gap * rate + SECOND // 2) // SECOND)
                self.position += lost
                self.lost_frames += lost
            self._anchor_capture = anchor
            self._anchor_running = self._to_running(anchor)
        start = self._anchor_running + sample_time(self._segment_read, rate)
        end = self._anchor_running + sample_time(read_after, rate)
        offset = self.position
        self.position += frames
        self._segment_read = read_after
        self._end_capture = self._anchor_capture + sample_time(read_after, rate)
        return Stamp(
            start,
            end - start,
            offset,
            offset + frames,
            flags,
            CaptureTime(ClockDomain.MONOTONIC, capture),
            lost,
        )
