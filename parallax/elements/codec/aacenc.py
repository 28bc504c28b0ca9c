"""aacenc: AAC-LC encoding (FFmpeg's native encoder through PyAV) in 1024-sample frames."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import av
import numpy as np

from parallax.buffer import Buffer, BufferFlags, Metadata
from parallax.caps import AUDIO_RAW, SAMPLE_FORMATS, AudioFormat, Caps, Format, Structure
from parallax.elements.codec.av_support import ffmpeg_reasons
from parallax.elements.codec.policy import TimestampPolicy, timestamp_policy_property
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Pad, Property, Transform
from parallax.time import CaptureTime, sample_time

AAC = "audio/mpeg"
FRAME = 1024
"""Samples per AAC-LC frame (per channel)."""
RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 8: "7.1"}
_FULL_SCALE = {"S16LE": 2.0**15, "S32LE": 2.0**31, "F32LE": 1.0}


class _Anchor:
    """Where one input buffer starts: its first sample's index and PTS (and capture)."""

    __slots__ = ("capture", "meta", "pts", "sample")

    def __init__(self, sample: int, pts: int, meta: Metadata) -> None:
        self.sample = sample
        self.pts = pts
        self.meta = meta
        self.capture = meta.capture


class AacEnc(Transform):
    """Encode raw audio to AAC-LC; every packet's PTS comes from the input sample positions.

    Input buffers of any length are cut into 1024-sample frames. A frame starting at sample
    ``k`` of an input buffer stamped ``pts`` gets PTS ``pts + floor(k * 1e9 / rate)``: the
    capture time of the buffer it starts in, moved by exact integer math (its capture time
    likewise, in its own clock domain). The encoder's first packet is its priming (1024
    samples of encoder delay, ``initial_padding``): it is stamped 1024 samples before the
    first frame, as FFmpeg does; an MP4 edit list trims it when the stream starts at zero.
    Output caps carry the AudioSpecificConfig as ``codec_data`` (hex).
    Example: ``audiotestsrc ! audioconvert ! aacenc ! mp4mux location=a.mp4``.
    """

    priming_samples = FRAME
    """Samples of encoder delay before the first frame (FFmpeg's ``initial_padding``)."""

    factory_name = "aacenc"
    description = "Encode raw audio to AAC-LC (FFmpeg aac)"
    bitrate = Property(int, 128, "target bitrate, kbit/s", minimum=8)
    timestamp_policy = timestamp_policy_property()

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.format: AudioFormat | None = None
        self.codec_data = b""
        self._encoder: av.AudioCodecContext | None = None
        self._policy = TimestampPolicy(self, self.timestamp_policy)
        self._reset()

    def _reset(self) -> None:
        self._held: list[np.ndarray[Any, Any]] = []  # planar float32 pieces not yet encoded
        self._held_samples = 0
        self._next_sample = 0  # index of the next input sample (counted from the first)
        self._frame_sample = 0  # index of the first held sample (the next frame's start)
        self._anchors: deque[_Anchor] = deque()
        self._frames: dict[int, Metadata] = {}  # frame start sample -> its metadata
        self._first: tuple[int, int] | None = None  # first frame: (sample, pts)

    @property
    def repairs(self) -> int:
        """Timestamps repaired so far (``timestamp-policy=repair``)."""
        return self._policy.repairs

    def sink_caps(self, pad: Pad) -> Caps:
        """Interleaved raw audio at an AAC rate, 1-8 channels."""
        return Caps.of(
            AUDIO_RAW, format=tuple(SAMPLE_FORMATS), rate=RATES, channels=tuple(_LAYOUTS)
        )

    def src_caps(self, pad: Pad) -> Caps:
        """AAC (MPEG-4 audio), raw frames without ADTS headers."""
        return Caps.of(AAC, mpegversion=4, **{"stream-format": "raw"})

    def transform_caps(self, downstream: Caps) -> Caps:
        """The raw audio we take (downstream takes AAC, not raw audio)."""
        return self.sink_caps(self.sink_pad)

    def set_format(self, fmt: Format, downstream: Caps) -> Format:
        """Open the encoder once to learn its AudioSpecificConfig; the output is AAC caps."""
        assert isinstance(fmt, AudioFormat)
        self.format = fmt
        self._encoder = self._open_encoder()
        self.codec_data = self._encoder.extradata or b""
        return Structure(
            AAC,
            {
                "mpegversion": 4,
                "stream-format": "raw",
                "rate": fmt.rate,
                "channels": fmt.channels,
                "codec_data": self.codec_data.hex(),
            },
        )

    def _open_encoder(self) -> av.AudioCodecContext:
        fmt = self.format
        assert fmt is not None
        encoder = av.CodecContext.create("aac", "w")
        assert isinstance(encoder, av.AudioCodecContext)
        encoder.sample_rate = fmt.rate
        encoder.layout = _LAYOUTS[fmt.channels]
        encoder.format = "fltp"
        encoder.bit_rate = self.bitrate * 1000
        encoder.time_base = Fraction(1, fmt.rate)
        encoder.open()
        return encoder

    def start(self, context: ProduceContext) -> None:
        """Start from sample 0 with a fresh encoder."""
        ffmpeg_reasons()
        if self._encoder is None:
            self._encoder = self._open_encoder()
        self._policy = TimestampPolicy(self, self.timestamp_policy)
        self._reset()

    def stop(self) -> None:
        """Drop the encoder (a new run opens a new one)."""
        self._encoder = None

    def process(self, buffer: Buffer) -> list[Buffer]:
        """Queue the samples; encode every complete 1024-sample frame."""
        fmt = self.format
        assert fmt is not None and isinstance(buffer.data, np.ndarray)
        samples = buffer.data.reshape(-1, fmt.channels)
        count = samples.shape[0]
        if count == 0:
            return []
        pts = buffer.meta.pts
        if pts is None and self._anchors:  # a missing PTS continues the previous buffer
            last = self._anchors[-1]
            pts = last.pts + sample_time(self._next_sample - last.sample, fmt.rate)
            self._policy.check(None, 0)  # strict: raises; repair: counts and warns
        elif pts is None:
            pts = 0
            self._policy.check(None, 0)
        self._anchors.append(_Anchor(self._next_sample, pts, buffer.meta))
        self._next_sample += count
        planar = (samples.T / _FULL_SCALE[fmt.sample_format]).astype(np.float32)
        self._held.append(planar)
        self._held_samples += count
        out: list[Buffer] = []
        while self._held_samples >= FRAME:
            out += self._encode_frame(FRAME)
        return out

    def flush(self) -> Iterable[Buffer]:
        """Encode the last (short) frame and drain the encoder."""
        encoder = self._encoder
        if encoder is None:
            return []
        out: list[Buffer] = []
        if self._held_samples:
            out += self._encode_frame(self._held_samples)
        return out + self._packets(encoder.encode(None))

    def _encode_frame(self, size: int) -> list[Buffer]:
        fmt, encoder = self.format, self._encoder
        assert fmt is not None and encoder is not None
        held = np.concatenate(self._held, axis=1) if len(self._held) > 1 else self._held[0]
        data, rest = held[:, :size], held[:, size:]
        self._held = [rest] if rest.shape[1] else []
        self._held_samples -= size
        start = self._frame_sample
        self._frame_sample += size
        meta = self._frame_meta(start, size)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(data), format="fltp", layout=_LAYOUTS[fmt.channels]
        )
        frame.sample_rate = fmt.rate
        frame.pts = start  # the encoder counts samples; PTS in ns are ours (self._frames)
        frame.time_base = Fraction(1, fmt.rate)
        self._frames[start] = meta
        if self._first is None:
            assert meta.pts is not None
            self._first = (start, meta.pts)
        return self._packets(encoder.encode(frame))

    def _frame_meta(self, start: int, size: int) -> Metadata:
        """Times of the frame starting at sample ``start``, from the buffer it starts in."""
        fmt = self.format
        assert fmt is not None
        while len(self._anchors) > 1 and self._anchors[1].sample <= start:
            self._anchors.popleft()
        anchor = self._anchors[0]
        into = sample_time(start - anchor.sample, fmt.rate)
        pts = self._policy.check(anchor.pts + into)
        offset = start if anchor.meta.offset is None else anchor.meta.offset + start - anchor.sample
        meta = Metadata(
            pts=pts,
            duration=sample_time(start + size, fmt.rate) - sample_time(start, fmt.rate),
            offset=offset,
            offset_end=offset + size,
            # a discontinuity marks the frame that starts where the input buffer did
            flags=anchor.meta.flags & BufferFlags.DISCONT if into == 0 else BufferFlags.NONE,
        )
        if pts != anchor.pts + into:
            meta.flags |= BufferFlags.RESYNC
        if anchor.capture is not None:
            meta.capture = CaptureTime(anchor.capture.domain, anchor.capture.ns + into)
        return meta

    def _packets(self, packets: list[av.Packet[Any]]) -> list[Buffer]:
        fmt = self.format
        assert fmt is not None
        out = []
        for packet in packets:
            assert packet.pts is not None
            meta = self._frames.pop(packet.pts, None)
            if meta is None:  # the priming packet: before the first frame
                assert self._first is not None
                first_sample, first_pts = self._first
                ahead = first_sample - packet.pts
                meta = Metadata(
                    pts=first_pts - sample_time(ahead, fmt.rate),
                    duration=sample_time(ahead, fmt.rate),
                    offset=packet.pts,
                    offset_end=first_sample,
                )
            meta.dts = meta.pts
            out.append(Buffer(bytes(packet), meta))
        return out
