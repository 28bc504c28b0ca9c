"""RGB -> I420 (the conversion in front of every encoder of an RGB-family source): our
kernel against swscale in the same run (issue: codec elements, "the hot conversions in
Cython nogil or via PyAV's swscale, whichever measures faster").

Both at 640x480 and 1920x1080, one thread each, swscale with one reused context (PyAV's
`VideoReformatter`, AREA like our chroma averaging), both including the copies into and out
of their frames that videoconvert makes. videoconvert uses the kernel for this pair, so the
kernel must measure faster: asserted ours/swscale <= 1.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from av.video.reformatter import VideoReformatter

from parallax.caps import VideoFormat
from parallax.elements.transform.frames import array_from_frame, frame_from_array, rgb_to_i420


@pytest.mark.parametrize(("width", "height"), [(640, 480), (1920, 1080)])
@pytest.mark.parametrize("pixel_format", ["RGB", "BGRx"])
def test_rgb_to_i420_faster_than_swscale(benchmark, compare, width, height, pixel_format):
    source = VideoFormat(width, height, pixel_format, Fraction(30))
    target = VideoFormat(width, height, "I420", Fraction(30))
    channels = 4 if pixel_format.endswith("x") else 3
    frame = np.random.default_rng(1).integers(0, 256, (height, width, channels), np.uint8)
    reformatter = VideoReformatter()

    def swscale() -> np.ndarray:
        converted = reformatter.reformat(
            frame_from_array(frame, source), format="yuv420p", interpolation="AREA", threads=1
        )
        return array_from_frame(converted, target)

    ours = rgb_to_i420(frame, source)
    assert np.abs(ours.astype(int) - swscale().astype(int)).max() <= 1
    ratio = compare(
        f"{pixel_format} -> I420 {width}x{height}: our kernel vs swscale (one thread each)",
        lambda: rgb_to_i420(frame, source),
        swscale,
        at_most=1.0,
        repeats=15,
    )
    benchmark.extra_info["ours_over_swscale"] = ratio
    benchmark(rgb_to_i420, frame, source)
