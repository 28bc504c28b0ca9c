"""alsasink: play audio on an ALSA device; its `AlsaClock` can drive the pipeline."""

from __future__ import annotations

import errno
import time
from typing import Any

import numpy as np

from parallax.buffer import Buffer
from parallax.caps import AUDIO_RAW, SAMPLE_FORMATS, AudioFormat, Caps, Format
from parallax.clock.alsa import AlsaClock, DevicePosition
from parallax.clock.base import Clock
from parallax.elements.device.alsa_pcm import AlsaPcm
from parallax.elements.device.alsasrc import AUDIO_CLOCK_PRIORITY
from parallax.errors import NegotiationError
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import ElementFailedError, Property, Sink
from parallax.time import MSECOND, SECOND, format_time, scale


class AlsaSink(Sink):
    """Play raw audio on an ALSA PCM at the buffers' times; provides the pipeline clock.

    The sink is a clock provider of priority 100 (audio hardware): its `AlsaClock` follows
    the card's playback position (frames written minus delay), so a pipeline with an
    alsasink runs on the sound card's crystal and video sinks in the same pipeline wait on it.

    Timing (with ``sync``, the default): the first buffer of a stream waits on the clock
    until ``base_time + pts + latency`` and starts the card; later buffers are written as
    soon as the card has room, so the card paces the stream. Each buffer's target time is
    compared with when the card will play it (now + the card's delay): ahead by more than
    ``alignment-threshold``, silence fills the gap; behind by more, the buffer is dropped
    (QOS). An underrun (the card ran dry) is a WARNING; the next buffer starts the card
    again at its time.

    Example: ``audiotestsrc ! alsasink device=hw:Dummy,0,0``.
    """

    factory_name = "alsasink"
    description = "Play audio on an ALSA device (provides the AlsaClock)"
    device = Property(
        str,
        "default",
        "ALSA device, e.g. hw:Loopback,0,0 ('default' may route to a sound server)",
    )
    period_size = Property(int, 1024, "frames per period", minimum=16)
    periods = Property(int, 4, "periods in the card's ring buffer", minimum=2)
    alignment_threshold = Property(
        int, 40 * MSECOND, "ns a buffer may be off its time before silence or a drop", minimum=0
    )

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.pcm: AlsaPcm | None = None
        self.format = AudioFormat()
        self._clock: AlsaClock | None = None
        self.underruns = 0
        self.silence_frames = 0

    # -- negotiation and lifecycle -----------------------------------------------------------

    def sink_caps(self, pad: Any) -> Caps:
        """Raw interleaved audio: S16LE, S32LE or F32LE, any rate and channels."""
        return Caps.of(AUDIO_RAW, format=tuple(SAMPLE_FORMATS))

    def set_format(self, fmt: Format) -> None:
        """Open the PCM for the negotiated format.

        Raises
        ------
        DeviceError
            Unknown device, busy, or the card does not take the format.
        """
        if not isinstance(fmt, AudioFormat):
            raise NegotiationError(f"{self.name}: needs raw audio, got {fmt}")
        if self.pcm is not None:
            self.pcm.close()
        self.format = fmt
        self.pcm = AlsaPcm(
            self.name,
            self.device,
            capture=False,
            fmt=fmt,
            period_size=self.period_size,
            periods=self.periods,
        )
        if self._clock is None:
            self._clock = AlsaClock(self.device, self._clock_position)
        self._clock.configure(fmt.rate, self.pcm.period_size)

    def start(self, context: ProduceContext) -> None:
        """Reset the counters."""
        self.underruns = 0
        self.silence_frames = 0

    def close(self) -> None:
        """Stop and close the PCM."""
        if self.pcm is not None:
            self.pcm.close()
            self.pcm = None

    def unblock(self) -> None:
        """Wake a write waiting for room in the card."""
        if self.pcm is not None:
            self.pcm.wake()

    # -- clock --------------------------------------------------------------------------------

    def _clock_position(self) -> DevicePosition | None:
        pcm = self.pcm
        return pcm.position() if pcm is not None else None

    def provide_clock(self) -> Clock | None:
        """The card's `AlsaClock` (None before the format is negotiated)."""
        return self._clock

    def clock_priority(self) -> int:
        """100: audio hardware."""
        return AUDIO_CLOCK_PRIORITY

    # -- streaming ----------------------------------------------------------------------------

    def _chain(self, buffer: Buffer) -> None:
        try:
            self._play(buffer)
        except ElementFailedError:
            raise
        except Exception as error:
            raise ElementFailedError(self, error) from error

    def _play(self, buffer: Buffer) -> None:
        context, pcm = self.context, self.pcm
        assert context is not None and pcm is not None
        data = buffer.data
        if not isinstance(data, np.ndarray) or data.ndim != 2:
            raise NegotiationError(f"{self.name}: expected a (frames, channels) array")
        data = np.ascontiguousarray(data)
        pts = buffer.meta.pts
        if self.sync is not False and pts is not None:
            target = pts + context.latency
            if not pcm.running():
                lateness = context.running_time() - target
                if lateness > 0:
                    self.late += 1
                    self.max_late_ns = max(self.max_late_ns, lateness)
                    if 0 <= self.max_lateness < lateness:
                        self.dropped += 1
                        context.post_qos(self, pts, lateness, dropped=True)
                        return
                elif not context.wait_running_time(target):
                    return  # stopping
            else:
                ahead = target - (context.running_time() + pcm.delay_ns())
                if ahead > self.alignment_threshold:
                    silence = np.zeros(
                        (scale(ahead, self.format.rate, SECOND), data.shape[1]), data.dtype
                    )
                    self.silence_frames += len(silence)
                    if not self._write(silence):
                        return
                elif ahead < -self.alignment_threshold:
                    self.late += 1
                    self.max_late_ns = max(self.max_late_ns, -ahead)
                    self.dropped += 1
                    context.post_qos(self, pts, -ahead, dropped=True)
                    return
        if self._write(data):
            self.rendered += 1

    def _write(self, data: np.ndarray[Any, Any]) -> bool:
        """Write all frames, waiting for room; False when the pipeline is stopping."""
        context, pcm = self.context, self.pcm
        assert context is not None and pcm is not None
        done, total = 0, len(data)
        while done < total:
            if context.stopping:
                return False
            written = pcm.write(data[done:])
            if written > 0:
                done += written
            elif written == -errno.EPIPE:
                self.underruns += 1
                self.post_warning(
                    f"underrun on {self.device}: the card ran dry (underrun "
                    f"{self.underruns}); playback restarts",
                    underruns=self.underruns,
                )
            elif not pcm.wait():
                return not context.stopping
        return True

    def finish(self) -> None:
        """At end of stream: wait (bounded) until the card has played what it holds."""
        context, pcm = self.context, self.pcm
        if context is None or pcm is None:
            return
        deadline = time.monotonic_ns() + pcm.delay_ns() + SECOND
        while pcm.running() and not context.stopping:
            delay = pcm.delay_ns()
            if delay <= 0 or time.monotonic_ns() > deadline:
                break
            # A sleep length in float seconds is the OS interface; no timestamp is a float.
            time.sleep(min(delay, 10 * MSECOND) / SECOND)
        if time.monotonic_ns() > deadline:
            self.post_warning(f"{self.device}: playback did not drain; dropped the rest")

    def __repr__(self) -> str:
        return f"<AlsaSink {self.name!r} {self.device} late={format_time(self.max_late_ns)}>"
