"""Streaming band-limited resampling with a ratio that may change on every call.

`StreamResampler` evaluates the input signal at positions the caller steers: output sample
``k`` of a call stands for input position ``position + k * step`` (in input samples since
the stream's first sample). Nothing is hidden in a library's internal state, so the caller
always knows which input instant each output sample is: ``audioresample`` uses that to keep
audio on the pipeline clock to a fraction of a sample over hours.

The kernel (``_ext/resample.pyx``) is a polyphase windowed-sinc interpolator: a Kaiser-
windowed sinc tabulated at several hundred fractional phases, linearly interpolated between
phases, run over float32 frames without the GIL. Measured quality and speed: docs/drift.md.

Why not libsamplerate (PyPI ``samplerate``) or libsoxr (``soxr``)? Both accept a varying
ratio (libsamplerate per ``process`` call; soxr through its experimental ``vr=True`` mode),
but neither reports the exact input position of each output sample (only counts and a
delay estimate), and near ratio 1 they were slow here: libsamplerate's sinc converters
0.3-1.3 Msamples/s, soxr VR 3.7 Msamples/s, against 30-50 for this kernel (docs/drift.md).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from parallax._ext import resample as _resample

__all__ = ["QUALITIES", "StreamResampler", "design_filter"]

Float32Frames = npt.NDArray[np.float32]

QUALITIES: dict[str, tuple[int, int, float, float]] = {
    # name: (taps, phases, passband fraction of the lower Nyquist, Kaiser beta)
    "fast": (16, 128, 0.85, 6.0),
    "medium": (48, 512, 0.92, 9.0),
    "best": (128, 1024, 0.95, 12.0),
}
"""Filter presets. "medium" (the default) reaches about -90 dB THD+N (docs/drift.md)."""


def design_filter(taps: int, phases: int, cutoff: float, beta: float) -> Float32Frames:
    """Tabulate a Kaiser-windowed sinc low-pass for the resampling kernel.

    Parameters
    ----------
    taps : int
        Input samples per output sample, a multiple of 4.
    phases : int
        Fractional positions tabulated between two input samples.
    cutoff : float
        Cutoff as a fraction of the input Nyquist frequency, 0 < cutoff <= 1 (scale it by
        the output/input rate ratio when downsampling).
    beta : float
        Kaiser window shape (6: ~60 dB stopband, 9: ~90 dB, 12: ~120 dB).

    Returns
    -------
    ndarray of float32, shape (phases + 1, taps)
        Row ``r`` weighs input frames ``i - taps/2 + 1 .. i + taps/2`` for an output at input
        position ``i + r / phases``; every row sums to 1 (unit gain at DC).
    """
    if taps < 4 or taps % 4:
        raise ValueError(f"taps must be a positive multiple of 4, got {taps}")
    if phases < 1:
        raise ValueError(f"phases must be >= 1, got {phases}")
    if not 0.0 < cutoff <= 1.0:
        raise ValueError(f"cutoff must be in (0, 1], got {cutoff}")
    half = taps // 2
    frac = np.arange(phases + 1, dtype=np.float64)[:, None] / phases
    offsets = (np.arange(taps, dtype=np.float64) - half + 1)[None, :] - frac
    u = np.clip(offsets / half, -1.0, 1.0)
    window = np.i0(beta * np.sqrt(1.0 - u * u)) / np.i0(beta)
    table = cutoff * np.sinc(cutoff * offsets) * window
    table /= table.sum(axis=1, keepdims=True)
    return np.ascontiguousarray(table, dtype=np.float32)


class StreamResampler:
    """Resample a stream of float32 frames at caller-steered input positions.

    Parameters
    ----------
    channels : int
        Interleaved channels per frame.
    ratio : float
        Nominal output rate / input rate: sets the anti-aliasing cutoff when below 1. The
        actual step is given to every `process` call.
    quality : {"fast", "medium", "best"}
        Filter preset (`QUALITIES`).

    Attributes
    ----------
    position : float
        Input position (input samples since the first frame) of the next output sample.
    frames_in, frames_out : int
        Frames consumed and produced so far.
    """

    def __init__(self, channels: int, ratio: float = 1.0, quality: str = "medium") -> None:
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        if not ratio > 0.0 or not math.isfinite(ratio):
            raise ValueError(f"ratio must be a positive number, got {ratio}")
        if quality not in QUALITIES:
            raise ValueError(f"quality must be one of {', '.join(QUALITIES)}, got {quality!r}")
        taps, phases, passband, beta = QUALITIES[quality]
        self.channels = channels
        self.quality = quality
        self.table = design_filter(taps, phases, passband * min(1.0, ratio), beta)
        self._half = taps // 2
        self.reset()

    def reset(self) -> None:
        """Start a new stream: output 0 at input position 0, nothing buffered."""
        # Frames before the first one are silence: history starts half - 1 frames early.
        self._history: Float32Frames = np.zeros((self._half - 1, self.channels), np.float32)
        self._history_start = -(self._half - 1)  # input index of _history[0]
        self._pos = float(self._half - 1)  # next output's position, relative to _history[0]
        self.frames_in = 0
        self.frames_out = 0

    @property
    def position(self) -> float:
        """Input position of the next output sample (input samples since the first frame)."""
        return self._history_start + self._pos

    @property
    def delay(self) -> float:
        """Input frames held back for the filter's future half (not yet output), >= 0."""
        return self.frames_in - self.position

    def process(self, frames: npt.NDArray[Any], step: float) -> Float32Frames:
        """Consume ``frames`` and return every output whose filter span is now complete.

        Parameters
        ----------
        frames : ndarray, shape (n, channels)
            Input frames (converted to float32).
        step : float
            Input samples per output sample for the outputs of this call (1 / ratio), > 0.

        Returns
        -------
        ndarray of float32, shape (m, channels)
            About ``n / step`` frames; the last ``taps / 2`` input frames wait for the next
            call (or `flush`).
        """
        if not step > 0.0 or not math.isfinite(step):
            raise ValueError(f"step must be a positive number, got {step}")
        frames = np.asarray(frames, dtype=np.float32).reshape(-1, self.channels)
        self._history = np.concatenate((self._history, frames))
        self.frames_in += len(frames)
        return self._run(step, len(self._history) - self._half)

    def flush(self, step: float) -> Float32Frames:
        """At end of stream: the outputs up to the last input frame (silence after it)."""
        end = len(self._history)  # positions before the end of the real input
        self._history = np.concatenate(
            (self._history, np.zeros((self._half, self.channels), np.float32))
        )
        return self._run(step, end)

    def _run(self, step: float, limit: int) -> Float32Frames:
        # outputs at positions pos + k * step < limit (relative to _history[0])
        count = max(0, math.ceil((limit - self._pos) / step))
        while count and self._pos + (count - 1) * step >= limit:  # float rounding
            count -= 1
        out: Float32Frames = _resample.resample_block(
            self._history, self.table, self._pos, step, count
        )
        self._pos += count * step
        self.frames_out += count
        drop = max(0, min(math.floor(self._pos) - self._half + 1, len(self._history)))
        if drop:
            self._history = self._history[drop:]
            self._history_start += drop
            self._pos -= drop
        return out
