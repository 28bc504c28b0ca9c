"""alsasrc: capture audio from an ALSA device, stamped from the sample position."""

from __future__ import annotations

import errno
from typing import Any

import numpy as np

from parallax.buffer import Buffer, BufferFlags, Metadata
from parallax.caps import SAMPLE_FORMATS, AudioFormat, Caps, Format, Structure
from parallax.clock.alsa import AlsaClock, DevicePosition
from parallax.clock.base import Clock, ClockProvider
from parallax.elements.device.alsa_pcm import STATE_RUNNING, AlsaPcm
from parallax.elements.device.alsa_timeline import CaptureTimeline
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Pad, Property, Sink, Source
from parallax.time import SECOND, CaptureTime, ClockDomain, format_time

AUDIO_CLOCK_PRIORITY = 100
"""Audio hardware band (100-199)."""


class AlsaSrc(Source):
    """Capture from an ALSA PCM; each buffer is one period, timed to the sample.

    Buffer PTS come from the sample position anchored to the driver's htstamp (see
    `CaptureTimeline`): consecutive buffers tile exactly, an overrun shows as a gap with
    DISCONT (and a WARNING counting the lost frames), ``meta.capture`` is the MONOTONIC
    capture time of the buffer's first sample measured from its own read. Data is an array
    (frames, channels) of int16, int32 or float32 (``format``).

    The element provides an `AlsaClock` (priority 100, the audio band) that follows the
    card's capture position, unless an audio sink in the pipeline provides one: then the
    sink's wins, as it is the clock the output must follow.

    Example: ``alsasrc device=hw:Loopback,1,0 rate=48000 ! appsink``.
    """

    factory_name = "alsasrc"
    description = "Capture audio from an ALSA device (sample-accurate PTS, AlsaClock)"
    device = Property(
        str,
        "default",
        "ALSA device, e.g. hw:Loopback,1,0 ('default' may route to a sound server)",
    )
    rate = Property(int, 48000, "samples per second", minimum=1)
    channels = Property(int, 2, "channels", minimum=1)
    format = Property(str, "S16LE", "sample format", choices=tuple(SAMPLE_FORMATS))
    period_size = Property(int, 1024, "frames per period (one buffer)", minimum=16)
    periods = Property(int, 4, "periods in the card's ring buffer", minimum=2)
    num_buffers = Property(int, -1, "buffers to capture, then end of stream (-1: forever)")

    is_live = True

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.pcm: AlsaPcm | None = None
        self.timeline: CaptureTimeline | None = None
        self._clock: AlsaClock | None = None
        self._count = 0
        self._warned_untimed = False
        self._started = False

    # -- properties of the stream ---------------------------------------------------------

    @property
    def audio_format(self) -> AudioFormat:
        """The format set by the properties."""
        return AudioFormat(self.rate, self.channels, self.format)

    @property
    def latency(self) -> int:
        """One period, ns (rounded up): a buffer is delivered when its last frame is in."""
        period = self.pcm.period_size if self.pcm is not None else self.period_size
        return -(-period * SECOND // self.rate)

    @property
    def lost_frames(self) -> int:
        """Frames lost in overruns since the stream started."""
        return self.timeline.lost_frames if self.timeline is not None else 0

    @property
    def drift_ppm(self) -> float | None:
        """The card's drift against CLOCK_MONOTONIC, parts per million (None until fitted).

        Card sample rate over nominal, minus 1, measured by the card's `AlsaClock`
        calibration from the driver's (htstamp, position) pairs (one per 50 ms of
        reads), whichever clock the pipeline runs on. Positive: the card runs fast.
        """
        return self._clock.monotonic.ppm if self._clock is not None else None

    # -- lifecycle --------------------------------------------------------------------------

    def open(self) -> None:
        """Open and configure the PCM.

        Raises
        ------
        DeviceError
            Unknown device (the cards are listed), busy, or the format, rate or channels
            are not supported (what the device supports is listed).
        """
        self.pcm = AlsaPcm(
            self.name,
            self.device,
            capture=True,
            fmt=self.audio_format,
            period_size=self.period_size,
            periods=self.periods,
        )
        self._clock = AlsaClock(self.device, self._clock_position)
        self._clock.configure(self.rate, self.pcm.period_size)

    def close(self) -> None:
        """Close the PCM."""
        if self.pcm is not None:
            self.pcm.close()

    def unblock(self) -> None:
        """Wake a read waiting for the card."""
        if self.pcm is not None:
            self.pcm.wake()

    def start(self, context: ProduceContext) -> None:
        """A fresh timeline: frame 0 is the first frame of the first read."""

        def to_running(monotonic_ns: int) -> int:
            return context.to_running_time(CaptureTime(ClockDomain.MONOTONIC, monotonic_ns))

        self.timeline = CaptureTimeline(self.rate, to_running)
        self._count = 0
        self._warned_untimed = False
        self._started = False

    # -- clock ------------------------------------------------------------------------------

    def _clock_position(self) -> DevicePosition | None:
        pcm = self.pcm
        return pcm.position() if pcm is not None else None

    def provide_clock(self) -> Clock | None:
        """The capture card's `AlsaClock`, unless an audio sink in the pipeline gives one."""
        pipeline = self.pipeline
        if pipeline is not None:
            for element in pipeline.elements:
                if (
                    isinstance(element, Sink)
                    and isinstance(element, ClockProvider)
                    and element.clock_priority() >= AUDIO_CLOCK_PRIORITY
                    and element.provide_clock() is not None
                ):
                    return None
        return self._clock

    def clock_priority(self) -> int:
        """100: audio hardware."""
        return AUDIO_CLOCK_PRIORITY

    # -- negotiation ------------------------------------------------------------------------

    def src_caps(self, pad: Pad) -> Caps:
        """Exactly the format set by the properties (the PCM is configured for it)."""
        return Caps([self.audio_format.to_structure()])

    def format_from_structure(self, structure: Structure) -> Format:
        """The properties' `AudioFormat`."""
        return AudioFormat.from_structure(structure)

    # -- streaming --------------------------------------------------------------------------

    def produce(self, context: ProduceContext) -> Buffer | None:
        """Read one period and stamp it (blocks until the card has it, at most 2 s)."""
        pcm, timeline = self.pcm, self.timeline
        assert pcm is not None and timeline is not None
        if 0 <= self.num_buffers <= self._count:
            return None
        while True:
            if context.stopping:
                return None
            # Wait for a whole period first (a non-blocking read takes whatever is there,
            # a few frames on a sample-accurate card); a stream that is not started yet
            # (first read, after an overrun) is started by the read itself.
            if self._started and not pcm.wait():
                continue  # woken: stopping, or closed (the read says which)
            frames, data, status, monotonic_ns = pcm.read()
            if frames > 0:
                self._started = True
                break
            if frames == -errno.EPIPE:
                self._started = False
                timeline.xrun()
            else:
                self._started = True
        assert status is not None
        state, htstamp, trigger, avail, _delay = status
        if self._clock is not None and state == STATE_RUNNING:
            # The read's status is a free observation of the card for its clock.
            self._clock.observe_position(DevicePosition(htstamp, trigger, pcm.transferred + avail))
        stamp = timeline.stamp(frames, htstamp, avail, monotonic_ns)
        if stamp.lost:
            self.post_warning(
                f"overrun on {self.device}: lost {stamp.lost} frames "
                f"({format_time(stamp.lost * SECOND // self.rate)}); the next buffer is DISCONT",
                lost_frames=stamp.lost,
                total_lost_frames=timeline.lost_frames,
                pts=stamp.pts,
            )
        if stamp.flags & BufferFlags.RESYNC and not self._warned_untimed:
            self._warned_untimed = True
            self.post_warning(
                f"{self.device} gives no timestamps (a sound-server plugin?): times come "
                "from CLOCK_MONOTONIC at read time minus the buffered frames (later by the "
                "scheduling delay); use a hw: device for capture times",
            )
        self._count += 1
        meta = Metadata(
            pts=stamp.pts,
            duration=stamp.duration,
            offset=stamp.offset,
            offset_end=stamp.offset_end,
            flags=stamp.flags,
            capture=stamp.capture,
        )
        return Buffer(self._array(data, frames), meta)

    def _array(self, data: bytes, frames: int) -> np.ndarray[Any, Any]:
        # A read-only view of pyalsaaudio's bytes: no copy.
        return np.frombuffer(data, dtype=SAMPLE_FORMATS[self.format]).reshape(frames, self.channels)
