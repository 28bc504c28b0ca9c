"""h264enc: H.264 encoding with libx264 (through PyAV); packets keep the frames' PTS."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import av

from parallax.buffer import Buffer, BufferFlags, Metadata
from parallax.caps import VIDEO_RAW, Caps, Format, Structure, VideoFormat
from parallax.elements.codec.av_support import NS_TIME_BASE, ffmpeg_reasons
from parallax.elements.codec.policy import TimestampPolicy, timestamp_policy_property
from parallax.elements.transform.frames import AV_PIXEL_FORMATS, SUBSAMPLED, frame_from_array
from parallax.errors import NegotiationError
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Pad, Property, Transform

H264 = "video/x-h264"
INPUT_FORMATS = ("I420", "NV12")
PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)
TUNES = ("", "film", "animation", "grain", "stillimage", "fastdecode", "zerolatency")


class H264Enc(Transform):
    """Encode I420 or NV12 frames to H.264 (Annex B byte stream, one access unit a buffer).

    The encoder's time base is 1 ns, so each packet's PTS is its frame's PTS exactly (PyAV
    would otherwise round every capture time to 1/fps). Output buffers carry PTS, DTS (before
    the PTS when ``bframes`` > 0), duration, the input's capture time and sequence, and
    ``DELTA_UNIT`` on non-keyframes. SPS/PPS are repeated in every keyframe, so a file cut
    anywhere after a keyframe decodes. PTS must increase: see ``timestamp-policy``.
    Example: ``videotestsrc ! videoconvert ! h264enc preset=veryfast ! mp4mux location=a.mp4``.

    Attributes
    ----------
    repairs : int
        Timestamps repaired under ``timestamp-policy=repair``.
    """

    factory_name = "h264enc"
    description = "Encode raw video to H.264 (libx264)"
    preset = Property(str, "veryfast", "x264 speed/quality preset", choices=PRESETS)
    tune = Property(str, "", "x264 tuning (empty: none)", choices=TUNES)
    bitrate = Property(int, 2048, "target bitrate, kbit/s", minimum=1)
    key_int_max = Property(
        int, 30, "frames between keyframes at most (a fragmented MP4 cuts at keyframes)", minimum=1
    )
    bframes = Property(int, 0, "B-frames between references (DTS then precede PTS)", minimum=0)
    threads = Property(int, 0, "encoder threads (0: x264 chooses by the cores)", minimum=0)
    timestamp_policy = timestamp_policy_property()

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.format: VideoFormat | None = None
        self._encoder: av.VideoCodecContext | None = None
        self._pending: dict[int, Metadata] = {}
        self._policy = TimestampPolicy(self, self.timestamp_policy)

    @property
    def repairs(self) -> int:
        """Timestamps repaired so far (``timestamp-policy=repair``)."""
        return self._policy.repairs

    def sink_caps(self, pad: Pad) -> Caps:
        """I420 or NV12 raw video."""
        return Caps.of(VIDEO_RAW, format=INPUT_FORMATS)

    def src_caps(self, pad: Pad) -> Caps:
        """H.264 byte stream, one access unit per buffer."""
        return Caps.of(H264, **{"stream-format": "byte-stream", "alignment": "au"})

    def transform_caps(self, downstream: Caps) -> Caps:
        """Any size and rate, I420 or NV12 (downstream takes H.264, not raw video)."""
        return self.sink_caps(self.sink_pad)

    def set_format(self, fmt: Format, downstream: Caps) -> Format:
        """Check the frame size; the output is H.264 of the same size and rate."""
        assert isinstance(fmt, VideoFormat)
        x, y = SUBSAMPLED[fmt.pixel_format]
        if fmt.width % x or fmt.height % y:
            raise NegotiationError(
                f"{self.name}: H.264 4:2:0 needs an even width and height, got "
                f"{fmt.width}x{fmt.height}"
            )
        self.format = fmt
        return Structure(
            H264,
            {
                "stream-format": "byte-stream",
                "alignment": "au",
                "width": fmt.width,
                "height": fmt.height,
                "framerate": fmt.fps,
            },
        )

    def start(self, context: ProduceContext) -> None:
        """Open a fresh encoder."""
        ffmpeg_reasons()
        fmt = self.format
        assert fmt is not None
        encoder = av.CodecContext.create("libx264", "w")
        assert isinstance(encoder, av.VideoCodecContext)
        encoder.width, encoder.height = fmt.width, fmt.height
        encoder.pix_fmt = AV_PIXEL_FORMATS[fmt.pixel_format]
        encoder.time_base = NS_TIME_BASE
        # x264 spends its bits by frame rate: a variable rate source counts as 30/1.
        encoder.framerate = fmt.fps if fmt.fps > 0 else Fraction(30)
        encoder.bit_rate = self.bitrate * 1000
        encoder.gop_size = self.key_int_max
        encoder.max_b_frames = self.bframes
        encoder.thread_count = self.threads
        options = {"preset": self.preset, "bf": str(self.bframes)}
        if self.tune:
            options["tune"] = self.tune
        encoder.options = options
        encoder.open()
        self._encoder = encoder
        self._pending = {}
        self._policy = TimestampPolicy(self, self.timestamp_policy)

    def stop(self) -> None:
        """Drop the encoder (a new run opens a new one)."""
        self._encoder = None
        self._pending = {}

    def process(self, buffer: Buffer) -> list[Buffer]:
        """Encode one frame; return the packets the encoder has ready (maybe none)."""
        encoder, fmt = self._encoder, self.format
        assert encoder is not None and fmt is not None
        pts = self._policy.check(buffer.meta.pts, buffer.meta.duration or fmt.frame_duration)
        meta = buffer.meta.copy()
        if pts != meta.pts:
            meta.pts = pts
            meta.flags |= BufferFlags.RESYNC
        assert not isinstance(buffer.data, bytes)
        frame = frame_from_array(buffer.data, fmt)
        frame.pts = pts
        frame.time_base = NS_TIME_BASE
        self._pending[pts] = meta
        return self._packets(encoder.encode(frame))

    def flush(self) -> Iterable[Buffer]:
        """Drain the encoder at end of stream."""
        encoder = self._encoder
        if encoder is None:
            return []
        return self._packets(encoder.encode(None))

    def _packets(self, packets: list[av.Packet[Any]]) -> list[Buffer]:
        out = []
        for packet in packets:
            assert packet.pts is not None
            meta = self._pending.pop(packet.pts)
            meta.dts = packet.dts
            if packet.is_keyframe:
                meta.flags &= ~BufferFlags.DELTA_UNIT
            else:
                meta.flags |= BufferFlags.DELTA_UNIT
            out.append(Buffer(bytes(packet), meta))
        return out
