"""Parallax: live media capture and processing with correct (captured) time."""

from parallax.buffer import Buffer, BufferFlags, Metadata
from parallax.caps import AudioFormat, Caps, VideoFormat
from parallax.clock import Clock, ClockFlags, ClockProvider, ManualClock, SystemClock
from parallax.elements import make
from parallax.errors import (
    ClockError,
    DeviceError,
    LinkError,
    NegotiationError,
    ParallaxError,
    PipelineError,
    TimestampError,
)
from parallax.pipeline import MessageType, Pipeline, State, parse_launch
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
    "AudioFormat",
    "Buffer",
    "BufferFlags",
    "Caps",
    "CaptureTime",
    "Clock",
    "ClockDomain",
    "ClockError",
    "ClockFlags",
    "ClockProvider",
    "ClockTime",
    "DeviceError",
    "LinkError",
    "ManualClock",
    "MessageType",
    "Metadata",
    "NegotiationError",
    "ParallaxError",
    "Pipeline",
    "PipelineError",
    "State",
    "SystemClock",
    "TimestampError",
    "VideoFormat",
    "format_time",
    "make",
    "parse_launch",
    "sample_pts",
    "sample_time",
    "scale",
    "scale_array",
]
