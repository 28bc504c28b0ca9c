"""audiotestsrc: test tones, live (paced on the pipeline clock) or as fast as possible."""

from __future__ import annotations

from typing import Any

import numpy as np

from parallax.buffer import Buffer, Metadata
from parallax.caps import AUDIO_RAW, SAMPLE_FORMATS, AudioFormat, Caps, Format, Structure
from parallax.errors import NegotiationError
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Pad, Property, Source
from parallax.time import SECOND, sample_time

_FULL_SCALE = {"S16LE": 32767, "S32LE": 2147483647}


class AudioTestSrc(Source):
    """Generate test audio; buffer PTS come from the sample position, exactly.

    The buffer starting at sample ``k`` has PTS ``floor(k * 1e9 / rate)`` and lasts until the
    next buffer's PTS, so consecutive buffers tile with no gap or overlap and no rounding
    drift, at any rate (44100, 47999, ...). Live, a buffer is delivered when running time
    reaches its *end* (as a capture card would), so the source's latency is one buffer.
    ``wave=ticks`` beeps for 10 ms at the start of every second: handy for A/V sync checks.
    Example: ``audiotestsrc is-live=true wave=ticks ! audio/x-raw,rate=48000 ! fakesink``.
    """

    factory_name = "audiotestsrc"
    description = "Test audio (sine, silence, ticks)"
    wave = Property(str, "sine", "waveform", choices=("sine", "silence", "ticks"))
    freq = Property(float, 440.0, "tone frequency, Hz", minimum=0.0)
    volume = Property(float, 0.8, "amplitude, 0..1", minimum=0.0, maximum=1.0)
    samplesperbuffer = Property(int, 1024, "samples per buffer (per channel)", minimum=1)
    num_buffers = Property(int, -1, "buffers to produce, then end of stream (-1: forever)")
    is_live = Property(bool, False, "pace buffers on the pipeline clock")

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.format = AudioFormat()
        self._position = 0
        self._count = 0

    @property
    def latency(self) -> int:
        """One buffer (rounded up), ns: a live buffer is ready when its last sample is."""
        return -(-self.samplesperbuffer * SECOND // self.format.rate)

    def src_caps(self, pad: Pad) -> Caps:
        """Raw interleaved audio, S16LE, S32LE or F32LE."""
        return Caps.of(AUDIO_RAW, format=tuple(SAMPLE_FORMATS))

    def preferred_fields(self) -> dict[str, Any]:
        """48 kHz stereo S16LE unless downstream says otherwise."""
        return {"format": "S16LE", "rate": 48000, "channels": 2}

    def format_from_structure(self, structure: Structure) -> Format:
        """An `AudioFormat` with a positive rate and channel count."""
        fmt = AudioFormat.from_structure(structure)
        if fmt.rate <= 0 or fmt.channels <= 0:
            raise NegotiationError(f"{self.name}: needs rate and channels > 0, got {fmt}")
        return fmt

    def set_format(self, fmt: Format) -> None:
        """Remember the negotiated format."""
        assert isinstance(fmt, AudioFormat)
        self.format = fmt

    def start(self, context: ProduceContext) -> None:
        """Restart at sample 0."""
        self._position = 0
        self._count = 0

    def produce(self, context: ProduceContext) -> Buffer | None:
        """The next buffer, stamped from its sample position (waits for its end when live)."""
        if 0 <= self.num_buffers <= self._count:
            return None
        rate, samples, start = self.format.rate, self.samplesperbuffer, self._position
        pts = sample_time(start, rate)
        end = sample_time(start + samples, rate)
        if self.is_live and not context.wait_running_time(end):
            return None
        self._position = start + samples
        self._count += 1
        meta = Metadata(pts=pts, duration=end - pts, offset=start, offset_end=start + samples)
        return Buffer(self._samples(start, samples), meta)

    def _samples(self, start: int, count: int) -> np.ndarray[Any, Any]:
        fmt = self.format
        positions = np.arange(start, start + count, dtype=np.int64)
        if self.wave == "silence":
            signal = np.zeros(count)
        else:
            # Cycles = freq * position / rate, split into whole seconds and the rest so the
            # float phase keeps full precision however long the stream runs.
            seconds, within_second = np.divmod(positions, fmt.rate)
            cycles = (self.freq * seconds) % 1.0 + self.freq * within_second / fmt.rate
            signal = self.volume * np.sin(2 * np.pi * cycles)
            if self.wave == "ticks":
                signal[within_second >= fmt.rate // 100] = 0.0
        scale = _FULL_SCALE.get(fmt.sample_format)
        if scale is None:
            data = signal.astype(np.float32)
        else:
            data = np.round(signal * scale).astype(fmt.dtype)
        return np.ascontiguousarray(np.repeat(data[:, None], fmt.channels, axis=1))
