"""audioresample: sample-rate conversion that keeps audio on the pipeline clock."""

from __future__ import annotations

from typing import Any

import numpy as np

from parallax.buffer import Buffer, BufferFlags, Metadata
from parallax.caps import AUDIO_RAW, SAMPLE_FORMATS, AudioFormat, Caps, Format, Structure, fixate
from parallax.drift import DriftEstimator, DriftStatus
from parallax.errors import NegotiationError
from parallax.pipeline.element import Pad, Property, Transform
from parallax.resample import QUALITIES, StreamResampler
from parallax.time import MSECOND, SECOND, format_time, sample_time

_FULL_SCALE = {"S16LE": 32768.0, "S32LE": 2147483648.0}


class AudioResample(Transform):
    """Convert the sample rate; absorb the drift of the capture clock against the pipeline's.

    A sound card counts samples on its own crystal: at a nominal 48 kHz an 80 ppm fast card
    delivers 48003.84 samples per second of pipeline time, and a file that plays them at
    48 kHz runs 432 ms behind the video after 90 minutes. A capture source stamps each
    buffer with its capture time (PTS, pipeline running time) and its device sample position
    (``offset``); audioresample fits PTS against position (`DriftEstimator`: the card's true
    rate, robust to timestamp jitter) and resamples so that output sample ``k`` holds the
    input at the instant ``t0 + k / rate``, where ``t0`` is the first input PTS. Output PTS
    are ``t0 + floor(k * 1e9 / rate)``: sample count and PTS agree exactly, and both follow
    the pipeline clock.

    The resampler's read position follows the fit through a feed-forward rate (the fitted
    drift) and a slow phase correction (the position error decays with time constant
    ``correction-time``), bounded by ``max-adjust`` ppm so the pitch never moves audibly.
    Before the fit has two points, and with ``drift-compensation=false``, it converts at the
    nominal ratio. A DISCONT input, a sample position that does not continue, or a position
    error beyond 20 ms (the capture clock stepped) restarts the stream at that buffer's PTS
    (output flagged DISCONT).

    The output rate comes from downstream caps (the input rate if downstream leaves it
    open); format and channels pass through. Output buffers carry no ``capture`` time (they
    do not start at a captured sample). Example::

        alsasrc ! audioresample ! audio/x-raw,rate=48000 ! ... ! mp4mux
    """

    factory_name = "audioresample"
    description = "Resample audio, following the capture clock's drift"
    quality = Property(str, "medium", "filter: fast, medium or best", choices=tuple(QUALITIES))
    drift_compensation = Property(
        bool, True, "follow the input's measured drift (PTS against sample offsets)"
    )
    correction_time = Property(
        int, 5 * SECOND, "ns for a position error to decay (phase correction)", minimum=1
    )
    max_adjust = Property(
        int, 1000, "largest rate change for drift and correction, ppm", minimum=0, maximum=100_000
    )

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.in_format = AudioFormat()
        self.out_format = AudioFormat()
        self._resampler: StreamResampler | None = None
        self._estimator = DriftEstimator()
        self.restarts = 0
        self._restart_pending = True
        self._out_offset = 0

    # -- negotiation --------------------------------------------------------------------------

    def sink_caps(self, pad: Pad) -> Caps:
        """Raw interleaved audio, S16LE, S32LE or F32LE, any rate."""
        return Caps.of(AUDIO_RAW, format=tuple(SAMPLE_FORMATS))

    def src_caps(self, pad: Pad) -> Caps:
        """Raw interleaved audio, S16LE, S32LE or F32LE, any rate."""
        return self.sink_caps(pad)

    def transform_caps(self, downstream: Caps) -> Caps:
        """What downstream takes, at any rate."""
        if downstream.is_any:
            return self.sink_caps(self.sink_pad)
        rateless = Caps(
            Structure(s.media, {k: v for k, v in s.fields.items() if k != "rate"})
            for s in downstream
        )
        return self.sink_caps(self.sink_pad).intersect(rateless)

    def set_format(self, fmt: Format, downstream: Caps) -> Format:
        """Same format and channels; the rate downstream wants (the input's if it may)."""
        if not isinstance(fmt, AudioFormat):
            raise NegotiationError(f"{self.name}: needs raw audio, got {fmt}")
        same = Caps([Structure(AUDIO_RAW, {"format": fmt.sample_format, "channels": fmt.channels})])
        allowed = same if downstream.is_any else same.intersect(downstream)
        if allowed.is_empty:
            raise NegotiationError(f"{self.name}: downstream takes {downstream}, not {fmt}")
        structure = fixate(allowed.first(), {"rate": fmt.rate})
        rate = int(structure.get("rate"))
        if rate <= 0:
            raise NegotiationError(f"{self.name}: output rate must be > 0, got {rate}")
        self.in_format = fmt
        self.out_format = AudioFormat(rate, fmt.channels, fmt.sample_format)
        return self.out_format

    # -- streaming ----------------------------------------------------------------------------

    def start(self, context: Any) -> None:
        """A new stream: forget the previous one."""
        self._restart_pending = True
        self.restarts = 0
        self._out_offset = 0

    @property
    def ppm(self) -> float | None:
        """The input's measured drift against the pipeline clock, ppm (None until known).

        Positive: the capture clock runs fast (more samples per second than nominal).
        """
        rate = self._estimator.rate
        return None if rate is None else (1.0 / rate - 1.0) * 1e6

    def _restart(self, meta: Metadata) -> None:
        fmt = self.in_format
        self._resampler = StreamResampler(
            fmt.channels, self.out_format.rate / fmt.rate, self.quality
        )
        self._estimator.reset()
        self._t0 = meta.pts  # running time of output sample 0
        self._first_offset = meta.offset
        self._origin_ns = sample_time(meta.offset or 0, fmt.rate)  # nominal time of input 0
        self._received = 0  # input frames since the restart
        self._produced = 0  # output frames since the restart
        self._discont = True
        self._nominal_step = fmt.rate / self.out_format.rate
        self._step = self._nominal_step
        self._restart_pending = False

    def process(self, buffer: Buffer) -> Buffer | None:
        """Resample one buffer; returns the frames whose filter span is complete."""
        meta = buffer.meta
        expected = None
        if not self._restart_pending and self._first_offset is not None:
            expected = self._first_offset + self._received
        if (
            self._restart_pending
            or meta.flags & BufferFlags.DISCONT
            or (expected is not None and meta.offset != expected)
        ):
            if not self._restart_pending:
                self.restarts += 1
            self._restart(meta)
        assert self._resampler is not None
        frames = self._to_float(buffer.data)
        steer = self.drift_compensation and meta.pts is not None and self._t0 is not None
        if steer and self._steer(meta.pts):  # type: ignore[arg-type]
            self.restarts += 1
            self._restart(meta)  # this buffer starts the new stream
        self._received += len(frames)
        return self._output(self._resampler.process(frames, self._step))

    def flush(self) -> list[Buffer]:
        """At end of stream: the frames held back for the filter."""
        if self._resampler is None or self._restart_pending:
            return []
        out = self._output(self._resampler.flush(self._step))
        self._restart_pending = True
        return [] if out is None else [out]

    def _steer(self, pts: int) -> bool:
        """Update the fit with this buffer and set the step. True: restart needed."""
        rate = self.in_format.rate
        position = self._received  # input frames before this buffer
        status = self._estimator.add(self._origin_ns + sample_time(position, rate), pts)
        if status is DriftStatus.DISCONTINUITY:
            return True
        fitted_rate = self._estimator.rate
        if fitted_rate is None:
            return False
        assert self._resampler is not None and self._t0 is not None
        # Where the next output sample should read: the input instant of its PTS.
        target_pts = self._t0 + sample_time(self._produced, self.out_format.rate)
        target_local = self._estimator.to_local(target_pts)
        if target_local is None:
            return False
        target = (target_local - self._origin_ns) * rate / SECOND  # input samples
        error = self._resampler.position - target  # > 0: reading too late
        if abs(error) * SECOND > 20 * MSECOND * rate:
            self.post_warning(
                f"audio position off by {format_time(round(error * SECOND / rate))}: restarting"
            )
            return True
        correction_s = self.correction_time / SECOND
        step = self._nominal_step / fitted_rate - error / (correction_s * self.out_format.rate)
        limit = self.max_adjust * 1e-6
        ratio = min(max(step / self._nominal_step, 1.0 - limit), 1.0 + limit)
        self._step = self._nominal_step * ratio
        return False

    def _output(self, frames: np.ndarray[Any, Any]) -> Buffer | None:
        count = len(frames)
        if not count:
            return None
        rate, start = self.out_format.rate, self._produced
        self._produced += count
        pts = end = None
        if self._t0 is not None:
            pts = self._t0 + sample_time(start, rate)
            end = self._t0 + sample_time(start + count, rate)
        offset = self._out_offset
        self._out_offset += count
        meta = Metadata(
            pts=pts,
            duration=None if pts is None or end is None else end - pts,
            offset=offset,
            offset_end=offset + count,
            flags=BufferFlags.DISCONT if self._discont else BufferFlags.NONE,
        )
        self._discont = False
        return Buffer(self._from_float(frames), meta)

    def _to_float(self, data: Any) -> np.ndarray[Any, Any]:
        fmt = self.in_format
        array = np.asarray(data).reshape(-1, fmt.channels)
        scale = _FULL_SCALE.get(fmt.sample_format)
        if scale is None:
            return array.astype(np.float32, copy=False)
        return array.astype(np.float32) * np.float32(1.0 / scale)

    def _from_float(self, frames: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        fmt = self.out_format
        scale = _FULL_SCALE.get(fmt.sample_format)
        if scale is None:
            return frames
        # float32 holds 24 bits: S32 loses its low byte here, as in any float resampler
        scaled = np.rint(frames.astype(np.float64) * scale)
        return np.clip(scaled, -scale, scale - 1).astype(fmt.dtype)
