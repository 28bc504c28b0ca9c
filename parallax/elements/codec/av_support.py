"""What the PyAV-based elements share: the nanosecond time base and FFmpeg's error reasons."""

from __future__ import annotations

from fractions import Fraction

import av
import av.logging

from parallax.time import SECOND

NS_TIME_BASE = Fraction(1, SECOND)
"""PyAV time base of Parallax times: 1 tick = 1 ns, so a PTS goes to FFmpeg unrounded."""

_logging_ready = False


def ffmpeg_reasons() -> None:
    """Let FFmpeg's error messages reach PyAV's exceptions (and Python logging).

    Without a log level PyAV raises bare errno errors ("Invalid argument") and FFmpeg's
    reason ("non monotonically increasing dts to muxer") is lost. Called by every PyAV-based
    element when it starts; only errors are logged, so the hot path stays quiet.
    """
    global _logging_ready
    if not _logging_ready:
        av.logging.set_level(av.logging.ERROR)
        _logging_ready = True
