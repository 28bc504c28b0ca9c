"""Parallax: live media capture and processing with correct (captured) time."""

from parallax.errors import (
    ClockError,
    DeviceError,
    LinkError,
    NegotiationError,
    ParallaxError,
    PipelineError,
    TimestampError,
)
from parallax.time import (
    MSECOND,
    NONE_NS,
    NSECOND,
    SECOND,
    USECOND,
    CaptureTime,
    ClockDomain,
    ClockTime,
    format_time,
    sample_pts,
    sample_time,
    scale,
    scale_array,
)

__all__ = [
    "MSECOND",
    "NONE_NS",
    "NSECOND",
    "SECOND",
    "USECOND",
    "CaptureTime",
    "ClockDomain",
    "ClockError",
    "ClockTime",
    "DeviceError",
    "LinkError",
    "NegotiationError",
    "ParallaxError",
    "PipelineError",
    "TimestampError",
    "format_time",
    "sample_pts",
    "sample_time",
    "scale",
    "scale_array",
]
