"""audioconvert: converts raw audio between sample formats and channel counts."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from parallax.buffer import Buffer
from parallax.caps import AUDIO_RAW, SAMPLE_FORMATS, AudioFormat, Caps, Format, Structure
from parallax.errors import NegotiationError
from parallax.pipeline.element import Pad, Transform

FORMATS = tuple(SAMPLE_FORMATS)
MAX_CHANNELS = 8

# Full scale of the integer formats: float 1.0 <-> FULL_SCALE (clipped to the type's maximum).
_FULL_SCALE = {"S16LE": 2**15, "S32LE": 2**31}


class AudioConvert(Transform):
    """Convert sample format (S16LE, S32LE, F32LE) and channel count; times stay as they are.

    The rate is not changed (that is audioresample's job), so every buffer keeps its PTS,
    duration and sample offsets. Channels: mono is copied to every output channel; several
    channels to mono are averaged; otherwise the first channels are kept and missing ones
    are silent. Integer <-> float uses full scale 2^15 / 2^31 (clipped).
    Example: ``audiotestsrc ! audioconvert ! audio/x-raw,format=F32LE,channels=1 ! ...``.
    """

    factory_name = "audioconvert"
    description = "Convert raw audio between sample formats and channel counts"

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self._input: AudioFormat | None = None
        self._output: AudioFormat | None = None

    def sink_caps(self, pad: Pad) -> Caps:
        """Interleaved raw audio in any supported sample format."""
        return Caps.of(AUDIO_RAW, format=FORMATS)

    def src_caps(self, pad: Pad) -> Caps:
        """Interleaved raw audio in any supported sample format."""
        return Caps.of(AUDIO_RAW, format=FORMATS)

    def transform_caps(self, downstream: Caps) -> Caps:
        """The rates downstream takes, any sample format and channel count."""
        if downstream.is_any:
            return self.sink_caps(self.sink_pad)
        structures = []
        for structure in downstream:
            if structure.media == AUDIO_RAW:
                fields = {
                    k: v for k, v in structure.fields.items() if k not in ("format", "channels")
                }
                structures.append(Structure(AUDIO_RAW, {**fields, "format": FORMATS}))
        return Caps(structures).intersect(self.sink_caps(self.sink_pad))

    def set_format(self, fmt: Format, downstream: Caps) -> Format:
        """Keep each of the input's properties that downstream takes, else its first choice."""
        assert isinstance(fmt, AudioFormat)
        wanted = Structure(
            AUDIO_RAW,
            {
                "rate": fmt.rate,
                "format": FORMATS,
                "channels": tuple(range(1, MAX_CHANNELS + 1)),
            },
        )
        allowed = Caps([wanted]).intersect(downstream)
        if allowed.is_empty:
            raise NegotiationError(
                f"{self.name}: downstream takes no {fmt.rate} Hz raw audio ({downstream}); "
                "add audioresample"
            )
        first = allowed.first()
        out = dataclasses.replace(
            fmt,
            sample_format=str(_prefer(first.get("format"), fmt.sample_format)),
            channels=int(str(_prefer(first.get("channels"), fmt.channels))),
        )
        self._input, self._output = fmt, out
        return out

    def process(self, buffer: Buffer) -> Buffer:
        """The samples in the output format, with a copy of the input's metadata."""
        source, target = self._input, self._output
        assert source is not None and target is not None
        if source == target:
            return buffer
        data = buffer.data
        assert isinstance(data, np.ndarray)
        samples = data.reshape(-1, source.channels)
        if source.sample_format != target.sample_format:
            samples = _convert_samples(samples, source.sample_format, target.sample_format)
        if source.channels != target.channels:
            samples = _mix_channels(samples, target.channels)
        return buffer.with_data(np.ascontiguousarray(samples, dtype=target.dtype))


def _prefer(choices: object, preferred: object) -> object:
    options = choices if isinstance(choices, tuple) else (choices,)
    return preferred if preferred in options else options[0]


def _convert_samples(
    samples: np.ndarray[Any, Any], source: str, target: str
) -> np.ndarray[Any, Any]:
    dtype = np.dtype(SAMPLE_FORMATS[target])
    if source in _FULL_SCALE and target in _FULL_SCALE:
        shift = 31 - 15
        wide = samples.astype(np.int64)
        return (wide << shift if target == "S32LE" else wide >> shift).astype(dtype)
    if source in _FULL_SCALE:  # integer -> float
        return (samples.astype(np.float64) / _FULL_SCALE[source]).astype(dtype)
    full = _FULL_SCALE[target]  # float -> integer, clipped
    scaled = np.round(samples.astype(np.float64) * full)
    return np.clip(scaled, -full, full - 1).astype(dtype)


def _mix_channels(samples: np.ndarray[Any, Any], channels: int) -> np.ndarray[Any, Any]:
    frames, have = samples.shape
    if have == 1:
        return np.repeat(samples, channels, axis=1)
    if channels == 1:
        mean = samples.astype(np.float64).mean(axis=1, keepdims=True)
        if samples.dtype.kind == "i":
            mean = np.round(mean)
        mixed: np.ndarray[Any, Any] = mean.astype(samples.dtype)
        return mixed
    out = np.zeros((frames, channels), samples.dtype)
    keep = min(have, channels)
    out[:, :keep] = samples[:, :keep]
    return out
