"""videotestsrc: test video frames, live (paced on the pipeline clock) or as fast as possible."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from parallax.buffer import Buffer, Metadata
from parallax.caps import VIDEO_RAW, Caps, Format, Structure, VideoFormat
from parallax.errors import NegotiationError
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Pad, Property, Source

FORMATS = ("RGB", "BGR", "RGBx", "BGRx", "GRAY8")

# SMPTE-like colour bars: white, yellow, cyan, green, magenta, red, blue (75% intensity).
_BARS = np.array(
    [[191, 191, 191], [191, 191, 0], [0, 191, 191], [0, 191, 0], [191, 0, 191], [191, 0, 0],
     [0, 0, 191]],
    dtype=np.uint8,
)  # fmt: skip


class VideoTestSrc(Source):
    """Generate test frames; frame ``n`` has PTS ``floor(n * 1e9 / fps)`` ns, exact.

    Live (``is-live=true``), frame ``n`` is produced when the pipeline's running time reaches
    its PTS, so a 5 s run takes 5 s; otherwise frames come as fast as downstream takes them.
    Each frame differs (a block moves with the frame number), so drops and repeats show.
    Example: ``videotestsrc is-live=true num-buffers=150 ! video/x-raw,width=640,height=480,
    framerate=30/1 ! timestampdebug ! fakesink``.
    """

    factory_name = "videotestsrc"
    description = "Test video frames (colour bars, moving ball, snow, ...)"
    pattern = Property(
        str, "smpte", "picture", choices=("smpte", "ball", "snow", "black", "white", "gradient")
    )
    num_buffers = Property(int, -1, "frames to produce, then end of stream (-1: forever)")
    is_live = Property(bool, False, "pace frames on the pipeline clock")

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.format = VideoFormat(320, 240)
        self._frame = 0
        self._background = np.zeros((1, 1, 3), np.uint8)
        self._rng = np.random.default_rng(0)

    def src_caps(self, pad: Pad) -> Caps:
        """Raw video in the packed formats it draws."""
        return Caps.of(VIDEO_RAW, format=FORMATS)

    def preferred_fields(self) -> dict[str, Any]:
        """320x240 RGB at 30/1 unless downstream says otherwise."""
        return {"format": "RGB", "width": 320, "height": 240, "framerate": Fraction(30)}

    def format_from_structure(self, structure: Structure) -> Format:
        """A `VideoFormat` with a positive frame rate."""
        fmt = VideoFormat.from_structure(structure)
        if fmt.fps <= 0 or fmt.width <= 0 or fmt.height <= 0:
            raise NegotiationError(f"{self.name}: needs a positive size and frame rate, got {fmt}")
        return fmt

    def set_format(self, fmt: Format) -> None:
        """Prepare the picture for the negotiated size."""
        assert isinstance(fmt, VideoFormat)
        self.format = fmt
        self._background = _draw_background(self.pattern, fmt.width, fmt.height)

    def start(self, context: ProduceContext) -> None:
        """Restart at frame 0."""
        self._frame = 0
        self._rng = np.random.default_rng(0)

    def produce(self, context: ProduceContext) -> Buffer | None:
        """The next frame, stamped with its exact PTS (waits for it when live)."""
        n = self._frame
        if 0 <= self.num_buffers <= n:
            return None
        fmt = self.format
        pts = fmt.frame_pts(n)
        if self.is_live and not context.wait_running_time(pts):
            return None
        self._frame = n + 1
        meta = Metadata(pts=pts, duration=fmt.frame_pts(n + 1) - pts, offset=n, offset_end=n + 1)
        return Buffer(self._draw(n), meta)

    def _draw(self, n: int) -> np.ndarray[Any, Any]:
        fmt = self.format
        if self.pattern == "snow":
            rgb = self._rng.integers(0, 256, (fmt.height, fmt.width, 3), dtype=np.uint8)
        else:
            rgb = self._background.copy()
            if self.pattern not in ("black", "white"):
                _draw_moving_block(rgb, n)
        return _convert_rgb(rgb, fmt.pixel_format)


def _draw_background(pattern: str, width: int, height: int) -> np.ndarray[Any, Any]:
    if pattern == "smpte":
        columns = np.arange(width) * len(_BARS) // width
        return np.ascontiguousarray(np.broadcast_to(_BARS[columns], (height, width, 3)))
    if pattern == "white":
        return np.full((height, width, 3), 255, np.uint8)
    if pattern == "gradient":
        ramp = (np.arange(width) * 255 // max(1, width - 1)).astype(np.uint8)
        return np.ascontiguousarray(np.broadcast_to(ramp[None, :, None], (height, width, 3)))
    return np.zeros((height, width, 3), np.uint8)  # black, ball, snow


def _draw_moving_block(rgb: np.ndarray[Any, Any], n: int) -> None:
    height, width = rgb.shape[:2]
    side = max(1, min(width, height) // 8)
    x = (n * 4) % max(1, width - side)
    y = (n * 3) % max(1, height - side)
    rgb[y : y + side, x : x + side] = 255


def _convert_rgb(rgb: np.ndarray[Any, Any], pixel_format: str) -> np.ndarray[Any, Any]:
    if pixel_format == "RGB":
        return rgb
    if pixel_format == "BGR":
        return np.ascontiguousarray(rgb[..., ::-1])
    if pixel_format in ("RGBx", "BGRx"):
        out = np.empty((*rgb.shape[:2], 4), np.uint8)
        out[..., :3] = rgb if pixel_format == "RGBx" else rgb[..., ::-1]
        out[..., 3] = 255
        return out
    # GRAY8: BT.601 luma in integer arithmetic
    weights = np.array([77, 150, 29], np.uint16)
    luma: np.ndarray[Any, Any] = (rgb.astype(np.uint16) * weights).sum(axis=2, dtype=np.uint32)
    return (luma >> 8).astype(np.uint8)
