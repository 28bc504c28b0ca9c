"""videoconvert: converts raw video between pixel formats (FFmpeg's swscale through PyAV)."""

from __future__ import annotations

import dataclasses

from av.video.reformatter import VideoReformatter

from parallax.buffer import Buffer
from parallax.caps import VIDEO_RAW, Caps, Format, Structure, VideoFormat
from parallax.elements.transform.frames import (
    AV_PIXEL_FORMATS,
    RGB_BYTE_OFFSETS,
    SUBSAMPLED,
    array_from_frame,
    frame_from_array,
    rgb_to_i420,
)
from parallax.errors import NegotiationError
from parallax.pipeline.element import Pad, Property, Transform

FORMATS = tuple(AV_PIXEL_FORMATS)


class VideoConvert(Transform):
    """Convert frames to the pixel format downstream wants; metadata passes unchanged.

    Formats: RGB, BGR, RGBx, BGRx, GRAY8, YUY2, UYVY, I420, NV12 (array layouts in
    `parallax.elements.transform.frames`). Size and frame rate are not changed. When downstream
    accepts the input format the buffers pass through untouched. YUV uses BT.601 limited range
    (swscale's default); chroma is subsampled by averaging and upsampled by repetition.
    RGB, BGR, RGBx and BGRx to I420 (what an encoder of such a source needs) run in our own
    kernel (`frames.rgb_to_i420`, faster than swscale), every other pair in swscale.
    Subsampled formats need an even width (and height for I420/NV12).
    Example: ``videotestsrc ! videoconvert ! video/x-raw,format=I420 ! h264enc ! ...``.
    """

    factory_name = "videoconvert"
    description = "Convert raw video between pixel formats"
    # GStreamer's default too: a pipeline gets its parallelism from its streaming threads,
    # and scaling threads that wake for every frame cost more CPU than they save at capture
    # sizes.
    n_threads = Property(int, 1, "swscale threads (0: one per core)", minimum=0)

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self._input: VideoFormat | None = None
        self._output: VideoFormat | None = None
        self._interpolation = "AREA"
        # One swscale context for the stream: PyAV's frame.reformat() makes a new one per
        # frame, and with it a new pool of scaling threads (two thread creations a frame).
        self._reformatter = VideoReformatter()

    def sink_caps(self, pad: Pad) -> Caps:
        """Raw video in any supported pixel format."""
        return Caps.of(VIDEO_RAW, format=FORMATS)

    def src_caps(self, pad: Pad) -> Caps:
        """Raw video in any supported pixel format."""
        return Caps.of(VIDEO_RAW, format=FORMATS)

    def transform_caps(self, downstream: Caps) -> Caps:
        """Whatever size and rate downstream takes, in any pixel format we read."""
        if downstream.is_any:
            return self.sink_caps(self.sink_pad)
        structures = []
        for structure in downstream:
            if structure.media == VIDEO_RAW:
                fields = {k: v for k, v in structure.fields.items() if k != "format"}
                structures.append(Structure(VIDEO_RAW, {**fields, "format": FORMATS}))
        return Caps(structures).intersect(self.sink_caps(self.sink_pad))

    def set_format(self, fmt: Format, downstream: Caps) -> Format:
        """Keep the input format if downstream takes it, else its first pixel format."""
        assert isinstance(fmt, VideoFormat)
        wanted = Structure(
            VIDEO_RAW,
            {"width": fmt.width, "height": fmt.height, "framerate": fmt.fps, "format": FORMATS},
        )
        allowed = Caps([wanted]).intersect(downstream)
        if allowed.is_empty:
            raise NegotiationError(
                f"{self.name}: downstream takes none of {FORMATS} ({downstream})"
            )
        choices = allowed.first().get("format")
        choices = choices if isinstance(choices, tuple) else (choices,)
        pixel_format = fmt.pixel_format if fmt.pixel_format in choices else str(choices[0])
        out = dataclasses.replace(fmt, pixel_format=pixel_format)
        for checked in (fmt, out):
            x, y = SUBSAMPLED.get(checked.pixel_format, (1, 1))
            if checked.width % x or checked.height % y:
                raise NegotiationError(
                    f"{self.name}: {checked.pixel_format} needs a width divisible by {x} and a "
                    f"height divisible by {y}, got {checked.width}x{checked.height}; "
                    "ask the source for an even size"
                )
        self._input, self._output = fmt, out
        # swscale's bicubic default blurs chroma across neighbours (40+ levels off at sharp
        # colour edges). Subsampling averages the pixels a chroma sample covers (AREA);
        # upsampling repeats each sample over its pixels (POINT): as fast, and exact on flat
        # areas.
        self._interpolation = "POINT" if fmt.pixel_format in SUBSAMPLED else "AREA"
        return out

    def process(self, buffer: Buffer) -> Buffer:
        """The frame in the output format, with a copy of the input's metadata."""
        source, target = self._input, self._output
        assert source is not None and target is not None
        if source.pixel_format == target.pixel_format:
            return buffer
        assert not isinstance(buffer.data, bytes)
        if target.pixel_format == "I420" and source.pixel_format in RGB_BYTE_OFFSETS:
            # the encode path of RGB-family sources: our kernel measures faster than swscale
            return buffer.with_data(rgb_to_i420(buffer.data, source))
        frame = frame_from_array(buffer.data, source)
        converted = self._reformatter.reformat(
            frame,
            format=AV_PIXEL_FORMATS[target.pixel_format],
            interpolation=self._interpolation,
            threads=self.n_threads,
        )
        return buffer.with_data(array_from_frame(converted, target))
