"""``parallax record``: capture -> convert -> encode -> mux into MP4 or MPEG-TS.

`RecordPlan` is what the command line asked for, checked; `describe` turns it into a
gst-launch description and `build_pipeline` into a `Pipeline`. Each stream passes a
``timestampdebug`` (``keep-pts=true``) right after its source, so the progress line and the
capture-side report see the capture timestamps before any encoder touches them.

Device sources (``v4l2src``, ``alsasrc``, ``pipewiresrc``, ``screencapturesrc``) are made by
name; one that is not available fails with the usual "no element ..." error.
"""

from __future__ import annotations

import dataclasses
import math
import os
from fractions import Fraction

from parallax.pipeline import Pipeline, parse_launch

TEST = "test"
"""``--video test`` / ``--audio test``: the built-in live test sources."""

MUXERS = {".mp4": "mp4mux fragmented=true", ".m4v": "mp4mux fragmented=true", ".ts": "mpegtsmux"}
"""Output suffix -> muxer. MP4 is fragmented: a crash loses at most the last fragment."""

AUDIO_PERIOD = 1024
"""Samples per test-source buffer: one AAC frame."""


@dataclasses.dataclass(frozen=True)
class RecordPlan:
    """What to record, checked.

    Attributes
    ----------
    output : str
        The file to write; its suffix picks the muxer (``.mp4``, ``.ts``).
    video : str or None
        ``/dev/videoN`` (V4L2), ``screen``, ``test`` or None (no video).
    audio : str or None
        An ALSA name (``hw:Loopback,1,0``, ``default``), ``pipewire`` or ``pipewire:TARGET``,
        ``test`` or None (no audio).
    duration : float or None
        Seconds to record; None: until Ctrl-C.
    width, height : int
        Video size, pixels.
    fps : Fraction
        Video frames per second.
    rate, channels : int
        Audio samples per second and channels.
    """

    output: str
    video: str | None = TEST
    audio: str | None = TEST
    duration: float | None = None
    width: int = 640
    height: int = 480
    fps: Fraction = Fraction(30)
    rate: int = 48000
    channels: int = 2

    def __post_init__(self) -> None:
        suffix = os.path.splitext(self.output)[1].lower()
        if suffix not in MUXERS:
            raise ValueError(
                f"{self.output}: cannot tell the container from the name; "
                f"use one of {', '.join(MUXERS)}"
            )
        if self.video is None and self.audio is None:
            raise ValueError(
                "nothing to record: give --video or --audio (or neither: test sources)"
            )
        if self.duration is not None and not (self.duration > 0 and math.isfinite(self.duration)):
            raise ValueError(
                f"--duration must be a positive number of seconds, not {self.duration}"
            )
        if self.fps <= 0:
            raise ValueError(f"--fps must be > 0, not {self.fps}")
        for name in ("width", "height", "rate", "channels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be > 0, not {getattr(self, name)}")

    @property
    def muxer(self) -> str:
        """The muxer element with its properties."""
        return MUXERS[os.path.splitext(self.output)[1].lower()]

    @property
    def uses_test_sources(self) -> bool:
        """True when every stream comes from a built-in test source."""
        return all(source in (TEST, None) for source in (self.video, self.audio))

    @property
    def video_frames(self) -> int | None:
        """Frames a test source makes for ``duration`` (None: until stopped)."""
        if self.duration is None:
            return None
        return round(Fraction(self.duration) * self.fps)

    @property
    def audio_periods(self) -> int | None:
        """1024-sample buffers a test source makes for ``duration``."""
        if self.duration is None:
            return None
        return math.ceil(Fraction(self.duration) * self.rate / AUDIO_PERIOD)


def _quote(value: str) -> str:
    return f'"{value}"' if any(c in value for c in ' !,"=') else value


def _video_source(plan: RecordPlan) -> str:
    if plan.video == TEST:
        frames = plan.video_frames
        return "videotestsrc is-live=true" + (f" num-buffers={frames}" if frames else "")
    if plan.video == "screen":
        return "screencapturesrc"
    assert plan.video is not None
    return f"v4l2src device={_quote(plan.video)}"


def _audio_source(plan: RecordPlan) -> str:
    if plan.audio == TEST:
        periods = plan.audio_periods
        text = f"audiotestsrc is-live=true samplesperbuffer={AUDIO_PERIOD}"
        return text + (f" num-buffers={periods}" if periods else "")
    assert plan.audio is not None
    if plan.audio == "pipewire" or plan.audio.startswith("pipewire:"):
        target = plan.audio.partition(":")[2]
        return "pipewiresrc" + (f" target-object={_quote(target)}" if target else "")
    return f"alsasrc device={_quote(plan.audio)}"


def describe(plan: RecordPlan) -> str:
    """The gst-launch description of the recording pipeline.

    ``source ! caps ! timestampdebug ! convert ! encode ! queue ! mux.`` per stream, and the
    muxer writing the file itself (``location``). The encoders are set for live capture
    (x264 ``ultrafast`` + ``zerolatency``, a keyframe every 2 s) and keep the capture PTS
    (their time base is fine enough; see the codec docs).
    """
    parts = []
    if plan.video is not None:
        fps = f"{plan.fps.numerator}/{plan.fps.denominator}"
        key_int = max(1, round(2 * plan.fps))
        parts.append(
            f"{_video_source(plan)} ! "
            f"video/x-raw,width={plan.width},height={plan.height},framerate={fps} ! "
            "timestampdebug name=video keep-pts=true silent=true ! "
            "videoconvert ! video/x-raw,format=I420 ! "
            f"h264enc name=venc preset=ultrafast tune=zerolatency key-int-max={key_int} ! "
            "queue ! mux."
        )
    if plan.audio is not None:
        parts.append(
            f"{_audio_source(plan)} ! "
            f"audio/x-raw,rate={plan.rate},channels={plan.channels} ! "
            "timestampdebug name=audio keep-pts=true silent=true ! "
            "audioconvert ! aacenc name=aenc ! queue ! mux."
        )
    parts.append(f"{plan.muxer} name=mux location={_quote(plan.output)}")
    return " ".join(parts)


def build_pipeline(plan: RecordPlan) -> Pipeline:
    """The recording pipeline (not started).

    Raises
    ------
    ElementNotFoundError
        An element is not available yet (the codec and device elements land separately).
    """
    return parse_launch(describe(plan))
