"""Raw video frames between numpy arrays (our layout) and PyAV frames (FFmpeg's planes).

Array layouts, one C-contiguous ``uint8`` array per frame:

============  ======================  ====================================================
format        array shape             planes
============  ======================  ====================================================
RGB, BGR      (height, width, 3)      packed
RGBx, BGRx    (height, width, 4)      packed, the 4th byte is ignored on input (255 out)
GRAY8         (height, width)         luma
YUY2, UYVY    (height, width, 2)      packed 4:2:2 (Y0 U Y1 V / U Y0 V Y1)
I420          (height * 3 // 2, width) Y, then U and V (height/2 x width/2 each)
NV12          (height * 3 // 2, width) Y, then interleaved UV (height/2 x width)
============  ======================  ====================================================
"""

from __future__ import annotations

import dataclasses
from typing import Any

import av
import numpy as np

from parallax._ext import convert as _convert
from parallax.caps import VideoFormat

AV_PIXEL_FORMATS = {
    "RGB": "rgb24",
    "BGR": "bgr24",
    "RGBx": "rgba",
    "BGRx": "bgra",
    "GRAY8": "gray",
    "YUY2": "yuyv422",
    "UYVY": "uyvy422",
    "I420": "yuv420p",
    "NV12": "nv12",
}
"""Our (GStreamer) pixel format names -> FFmpeg's."""

SUBSAMPLED = {"YUY2": (2, 1), "UYVY": (2, 1), "I420": (2, 2), "NV12": (2, 2)}
"""Formats with subsampled chroma -> (horizontal, vertical) factors the size must divide."""

_WRAPPABLE = {"RGB", "BGR", "RGBx", "BGRx", "GRAY8", "I420", "NV12"}
"""Formats whose array layout here is the one PyAV's ``from_numpy_buffer`` wraps as is."""

RGB_BYTE_OFFSETS = {"RGB": (0, 1, 2), "BGR": (2, 1, 0), "RGBx": (0, 1, 2), "BGRx": (2, 1, 0)}
"""Packed RGB-family formats -> byte offsets of red, green and blue in a pixel."""

_RGB_LAYOUTS = tuple(RGB_BYTE_OFFSETS)  # their order numbers the kernel's layouts (yuv.h)

_PACKED_CHANNELS = {"RGB": 3, "BGR": 3, "RGBx": 4, "BGRx": 4, "GRAY8": 1, "YUY2": 2, "UYVY": 2}


def array_shape(fmt: VideoFormat) -> tuple[int, ...]:
    """The numpy shape of one frame of ``fmt`` (see the module table)."""
    w, h = fmt.width, fmt.height
    channels = _PACKED_CHANNELS.get(fmt.pixel_format)
    if channels is None:
        return (h * 3 // 2, w)
    return (h, w) if channels == 1 else (h, w, channels)


def _plane_views(fmt: VideoFormat, data: np.ndarray[Any, Any]) -> list[np.ndarray[Any, Any]]:
    """The array cut into its planes as 2-D (rows, bytes per row) views."""
    w, h = fmt.width, fmt.height
    channels = _PACKED_CHANNELS.get(fmt.pixel_format)
    if channels is not None:
        return [data.reshape(h, w * channels)]
    flat = data.reshape(-1)
    luma = flat[: w * h].reshape(h, w)
    if fmt.pixel_format == "NV12":
        return [luma, flat[w * h :].reshape(h // 2, w)]
    quarter = (w // 2) * (h // 2)
    u = flat[w * h : w * h + quarter].reshape(h // 2, w // 2)
    v = flat[w * h + quarter :].reshape(h // 2, w // 2)
    return [luma, u, v]


def _check_array(data: np.ndarray[Any, Any], fmt: VideoFormat) -> None:
    shape = array_shape(fmt)
    if data.shape != shape or data.dtype != np.uint8:
        raise ValueError(
            f"a {fmt.pixel_format} {fmt.width}x{fmt.height} frame is a uint8 array of shape "
            f"{shape}, got {data.dtype} {data.shape}"
        )


def _wrappable(fmt: VideoFormat) -> bool:
    # PyAV 18 derives a 4:2:0 frame's height as rows // 6 * 4: right only for heights
    # divisible by 4
    return fmt.pixel_format in _WRAPPABLE and (
        fmt.pixel_format not in ("I420", "NV12") or fmt.height % 4 == 0
    )


def frame_from_array(data: np.ndarray[Any, Any], fmt: VideoFormat) -> av.VideoFrame:
    """A PyAV frame of a frame array (layout of the module table), to read from.

    A C-contiguous array of a `_WRAPPABLE` format is wrapped without a copy (the frame
    keeps the array alive; swscale and the encoders only read it, and libavcodec copies a
    frame it must keep); others are copied into a new frame with FFmpeg's row padding.

    Raises
    ------
    ValueError
        The array's shape or dtype does not match ``fmt``.
    """
    _check_array(data, fmt)
    if _wrappable(fmt) and data.flags.c_contiguous:
        return av.VideoFrame.from_numpy_buffer(data, AV_PIXEL_FORMATS[fmt.pixel_format])
    frame = av.VideoFrame(fmt.width, fmt.height, AV_PIXEL_FORMATS[fmt.pixel_format])
    for plane, view in zip(frame.planes, _plane_views(fmt, data), strict=True):
        rows, row_bytes = view.shape
        target = np.frombuffer(plane, np.uint8).reshape(rows, plane.line_size)  # type: ignore[call-overload]
        target[:, :row_bytes] = view
    return frame


def array_from_frame(frame: av.VideoFrame, fmt: VideoFormat) -> np.ndarray[Any, Any]:
    """Copy a PyAV frame of ``fmt`` out into a new C-contiguous array."""
    out = np.empty(array_shape(fmt), np.uint8)
    for plane, view in zip(frame.planes, _plane_views(fmt, out), strict=True):
        rows, row_bytes = view.shape
        source = np.frombuffer(plane, np.uint8).reshape(rows, plane.line_size)  # type: ignore[call-overload]
        view[:] = source[:, :row_bytes]
    return out


def rgb_to_i420(data: np.ndarray[Any, Any], fmt: VideoFormat) -> np.ndarray[Any, Any]:
    """A packed RGB-family frame (`RGB_BYTE_OFFSETS`) as a new I420 array: BT.601 limited
    range, chroma the rounded average of each 2x2 block (as swscale's AREA), in the Cython
    kernel of `parallax._ext.convert` (benchmarks/bench_convert.py: faster than swscale).

    Raises
    ------
    ValueError
        The array does not match ``fmt``, or the size is odd.
    """
    _check_array(data, fmt)
    if fmt.width % 2 or fmt.height % 2:
        raise ValueError(f"I420 needs an even size, got {fmt.width}x{fmt.height}")
    out = np.empty(array_shape(dataclasses.replace(fmt, pixel_format="I420")), np.uint8)
    _convert.rgb_to_i420(np.ascontiguousarray(data), out, _RGB_LAYOUTS.index(fmt.pixel_format))
    return out
