"""`AvMux`: the base of our muxers, an aggregator that writes packets with PyAV.

Each input pad carries one encoded stream (``video/x-h264`` or ``audio/mpeg,mpegversion=4``).
The aggregator hands buffers over in DTS order across the inputs (a stalled input holds the
others at most ``latency``); each becomes a PyAV packet stamped in nanoseconds, which PyAV
rescales to the stream's time base only as it writes: the one place a time is rounded.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from fractions import Fraction
from typing import Any, ClassVar

import av

from parallax.buffer import Buffer, BufferFlags
from parallax.caps import Caps, Format, Structure
from parallax.elements.codec.av_support import NS_TIME_BASE, ffmpeg_reasons
from parallax.errors import NegotiationError, PipelineError
from parallax.pipeline.aggregator import Aggregator
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Pad, Property

log = logging.getLogger("parallax.mux")

H264 = Structure("video/x-h264", {"stream-format": "byte-stream"})
AAC = Structure("audio/mpeg", {"mpegversion": 4, "stream-format": "raw"})
_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 8: "7.1"}


@dataclasses.dataclass
class StreamStats:
    """What a muxer wrote for one input.

    Attributes
    ----------
    kind : str
        ``video`` or ``audio``.
    packets : int
        Packets written.
    first_pts : int or None
        Smallest PTS written, ns, running time (for AAC: the priming packet's).
    end : int or None
        Largest PTS + duration written, ns, running time.
    """

    kind: str
    packets: int = 0
    first_pts: int | None = None
    end: int | None = None


class AvMux(Aggregator):
    """Write every input stream into one container file at ``location`` (PyAV / FFmpeg).

    The src pad stays unlinked: the muxer is the end of its pipeline. Subclasses give the
    FFmpeg format name, the options and the video time base.

    Attributes
    ----------
    stats : dict
        `StreamStats` by input pad name.
    """

    container_format: ClassVar[str] = ""
    location = Property(str, "", "file to write (required)")

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self._container: Any = None
        self._streams: dict[Pad, Any] = {}
        self.stats: dict[str, StreamStats] = {}

    # -- hooks for subclasses -----------------------------------------------------------------

    def container_options(self, live: bool) -> dict[str, str]:
        """FFmpeg muxer options (``live``: a source of the pipeline is live)."""
        return {}

    def video_time_base(self) -> Fraction:
        """The video stream's time base (audio streams count samples)."""
        return Fraction(1, 90_000)

    # -- negotiation -----------------------------------------------------------------------------

    def pad_caps(self, pad: Pad) -> Caps:
        """H.264 byte stream or raw AAC."""
        return Caps([H264, AAC])

    def set_pad_format(self, pad: Pad, fmt: Format) -> None:
        """Check the encoded format is complete enough to describe the stream."""
        assert isinstance(fmt, Structure)
        need = ("width", "height") if fmt.media == H264.media else ("rate", "channels")
        missing = [field for field in need if field not in fmt.fields]
        if missing:
            raise NegotiationError(
                f"{self.name}.{pad.name}: {fmt.media} caps lack {', '.join(missing)}: {fmt}"
            )
        if fmt.media == AAC.media and int(fmt.get("channels")) not in _LAYOUTS:
            raise NegotiationError(f"{self.name}: no AAC layout for {fmt.get('channels')} channels")

    # -- lifecycle ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Check ``location`` names a file in an existing directory."""
        if not self.location:
            raise PipelineError(self.name, "set location=FILE (the file to write)")
        folder = os.path.dirname(os.path.abspath(self.location)) or "."
        if not os.path.isdir(folder):
            raise PipelineError(
                self.name, f"location={self.location}: directory {folder} does not exist"
            )

    def start(self, context: object) -> None:
        """Open the file and add one stream per input, in pad order."""
        super().start(context)
        ffmpeg_reasons()
        assert isinstance(context, ProduceContext)
        options = self.container_options(context.sync_sinks)
        container = av.open(self.location, "w", format=self.container_format, options=options)
        self._container = container
        self._streams = {}
        self.stats = {}
        try:
            for pad in self.sink_pads:
                fmt = pad.format
                assert isinstance(fmt, Structure)
                self._streams[pad] = self._add_stream(container, fmt)
                kind = "video" if fmt.media == H264.media else "audio"
                self.stats[pad.name] = StreamStats(kind)
        except Exception:
            self._close_quietly()
            raise

    def _add_stream(self, container: Any, fmt: Structure) -> Any:
        if fmt.media == H264.media:
            fps = Fraction(fmt.get("framerate", 0))
            stream = container.add_mux_stream(
                "h264",
                rate=fps if fps > 0 else None,
                width=int(fmt.get("width")),
                height=int(fmt.get("height")),
            )
            stream.time_base = self.video_time_base()
            return stream
        rate, channels = int(fmt.get("rate")), int(fmt.get("channels"))
        # An audio stream needs the AudioSpecificConfig before the header; PyAV takes it on
        # a codec context (it opens a spare encoder there, which writes the same config).
        stream = container.add_stream("aac", rate=rate, layout=_LAYOUTS[channels])
        stream.codec_context.extradata = bytes.fromhex(str(fmt.get("codec_data", "")))
        stream.time_base = Fraction(1, rate)
        return stream

    def aggregate(self, pad: Pad, buffer: Buffer) -> None:
        """Write one packet (PTS/DTS/duration in ns, rescaled by PyAV at the write)."""
        data = buffer.data
        packet = av.Packet(data if isinstance(data, bytes) else data.tobytes())
        meta = buffer.meta
        packet.time_base = NS_TIME_BASE
        packet.pts = meta.pts
        packet.dts = meta.effective_dts
        packet.duration = meta.duration
        packet.is_keyframe = not meta.flags & BufferFlags.DELTA_UNIT
        packet.stream = self._streams[pad]
        self._container.mux(packet)
        stats = self.stats[pad.name]
        stats.packets += 1
        if meta.pts is not None:
            if stats.first_pts is None or meta.pts < stats.first_pts:
                stats.first_pts = meta.pts
            end = meta.pts + (meta.duration or 0)
            if stats.end is None or end > stats.end:
                stats.end = end

    def finish(self) -> list[Buffer]:
        """Write the trailer and close the file."""
        container, self._container = self._container, None
        if container is not None:
            container.close()
        return []

    def stop(self) -> None:
        """Close the file if streaming stopped early (error, teardown): keep what it has."""
        self._close_quietly()

    def _close_quietly(self) -> None:
        container, self._container = self._container, None
        if container is None:
            return
        try:
            container.close()
        except Exception as error:  # the first error was reported already
            log.warning("%s: closing %s after a failure: %s", self.name, self.location, error)
