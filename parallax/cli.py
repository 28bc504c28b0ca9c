"""The ``parallax`` command: ``launch``, ``inspect`` and ``demo``.

Every error prints one line and exits non-zero; ``--verbose`` shows the traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType

import numpy as np

from parallax.clock.base import ClockProvider
from parallax.elements import FACTORIES, element_class
from parallax.elements.core.fakesink import FakeSink
from parallax.elements.debug.timestampdebug import TimestampDebug
from parallax.errors import ParallaxError
from parallax.pipeline import MessageType, Pipeline, State, parse_launch
from parallax.pipeline.element import Element, Sink
from parallax.time import SECOND, format_time, sample_pts, sample_time

log = logging.getLogger("parallax.cli")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="parallax", description="Capture and process live media with correct time."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs, tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    launch = commands.add_parser("launch", help="run a pipeline written in gst-launch syntax")
    launch.add_argument("description", nargs="+", help='e.g. "videotestsrc ! fakesink"')
    launch.add_argument("--timeout", type=float, default=None, help="seconds, then stop")

    inspect = commands.add_parser("inspect", help="list elements, or show one")
    inspect.add_argument("element", nargs="?", help="factory name, e.g. videotestsrc")

    demo = commands.add_parser("demo", help="the main job on the built-in test sources")
    demo.add_argument("--seconds", type=float, default=5.0, help="live capture length")
    demo.add_argument("--output", default="demo.mp4", help="file the live recording goes to")

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "launch":
            return run_launch(" ".join(args.description), args.timeout)
        if args.command == "inspect":
            return run_inspect(args.element)
        return run_demo(args.seconds, args.output)
    except (ParallaxError, TimeoutError, OSError, ValueError) as error:
        if args.verbose:
            raise
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"parallax: error: {first_line}", file=sys.stderr)
        return 1


def run_until_eos(pipeline: Pipeline, timeout: float | None) -> float:
    """Play ``pipeline`` to end of stream; Ctrl-C ends the streams cleanly (files close).

    Returns the wall time in seconds.
    """
    start = time.monotonic()

    def finish(signum: int, frame: FrameType | None) -> None:
        print("\nparallax: interrupted, finishing the streams (Ctrl-C again to abort)")
        signal.signal(signal.SIGINT, signal.default_int_handler)
        pipeline.send_eos()

    previous = signal.signal(signal.SIGINT, finish)
    try:
        pipeline.run(timeout=timeout)
    finally:
        signal.signal(signal.SIGINT, previous)
    return time.monotonic() - start


def run_launch(description: str, timeout: float | None) -> int:
    """``parallax launch``: run a pipeline and print each timestampdebug's statistics."""
    pipeline = parse_launch(description)
    wall = run_until_eos(pipeline, timeout)
    for message in pipeline.bus.messages(MessageType.CLOCK_SELECTED):
        print(message.text)
    for element in pipeline:
        if isinstance(element, TimestampDebug):
            print(f"{element.name}: {element.stats.summary()}")
    print(f"done in {wall:.3f} s wall time")
    return 0


def run_inspect(factory: str | None) -> int:
    """``parallax inspect``: list the elements, or one element's details."""
    if factory is None:
        for name in sorted(FACTORIES):
            print(f"{name:18} {element_class(name).description}")
        return 0
    cls = element_class(factory)
    element = cls()
    print(f"{factory}: {cls.description}\n")
    print((cls.__doc__ or "").strip() + "\n")
    print("Properties:")
    for name, prop in cls.properties().items():
        kind = prop.kind.__name__
        extra = f" one of {', '.join(map(str, prop.choices))}" if prop.choices else ""
        print(f"  {name:20} {kind:8} default {prop.default!s:10} {prop.doc}{extra}")
    print("\nPads:")
    for pad in element.sink_pads:
        print(f"  sink {pad.name:8} {element.sink_caps(pad)}")
    if _takes_request_pads(element):
        print("  sink sink_%u   on request, one per input")
    for pad in element.src_pads:
        print(f"  src  {pad.name:8} {element.src_caps(pad)}")
    provides = isinstance(element, ClockProvider)
    print(f"\nProvides a clock: {'yes' if provides else 'no'}")
    return 0


def _takes_request_pads(element: Element) -> bool:
    from parallax.pipeline.aggregator import Aggregator

    return isinstance(element, Aggregator)


def run_demo(seconds: float, output: str = "demo.mp4") -> int:
    """``parallax demo``: exact time math, live test sources on the pipeline clock, then a
    live recording to an MP4 file with its timing report.
    """
    from parallax.clock import SystemClock

    clock = SystemClock()
    print(f"Clock: {clock.name} (CLOCK_MONOTONIC), resolution {clock.resolution} ns\n")
    print("PTS of 10 samples at 44100 Hz from sample position 2^40 (exact, integer ns):")
    positions = np.arange(2**40, 2**40 + 10, dtype=np.int64)
    for position, pts in zip(
        positions.tolist(), sample_pts(positions, 44100).tolist(), strict=True
    ):
        print(f"  sample {position:>15}  pts {pts:>20} ns  {format_time(pts)}")

    frames = round(seconds * 30)
    periods = round(seconds * 48000 / 1024)
    pipeline = parse_launch(
        f"videotestsrc is-live=true num-buffers={frames} ! "
        "video/x-raw,width=320,height=240,framerate=30/1 ! timestampdebug name=video ! "
        "fakesink name=videosink sync=true "
        f"audiotestsrc is-live=true num-buffers={periods} samplesperbuffer=1024 ! "
        "audio/x-raw,rate=48000,channels=2 ! timestampdebug name=audio ! "
        "fakesink name=audiosink sync=true"
    )
    print(f"\nLive capture of {seconds:g} s from the test sources:")
    wall = run_until_eos(pipeline, timeout=seconds * 3 + 10)
    for message in pipeline.bus.messages(MessageType.CLOCK_SELECTED):
        print(f"  {message.text}")
    print(f"  wall time {wall:.3f} s")
    for name, nominal in (("video", SECOND // 30), ("audio", 1024 * SECOND // 48000)):
        debug = pipeline.get(name)
        sink = pipeline.get(f"{name}sink")
        assert isinstance(debug, TimestampDebug) and isinstance(sink, FakeSink)
        stats = debug.stats
        error = max(
            abs((stats.min_interval or nominal) - nominal),
            abs((stats.max_interval or nominal) - nominal),
        )
        print(
            f"  {name}: {stats.buffers} buffers, PTS span {format_time(stats.span)}, "
            f"largest PTS interval error {error} ns, gaps {stats.gaps}, "
            f"late renders {_late(sink)}"
        )
    pipeline.set_state(State.NULL)
    record_demo(seconds, output)
    return 0


def record_demo(seconds: float, location: str) -> None:
    """Record live test video and audio to ``location`` and print the timing report."""
    import av

    from parallax.elements.codec.aacenc import AacEnc
    from parallax.elements.codec.h264enc import H264Enc
    from parallax.elements.mux.avmux import AvMux

    frames = round(seconds * 30)
    periods = round(seconds * 50)  # 960 samples at 48 kHz: 20 ms each
    pipeline = parse_launch(
        f"videotestsrc is-live=true pattern=ball num-buffers={frames} ! "
        "video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! "
        "h264enc name=venc ! mux. "
        f"audiotestsrc is-live=true wave=ticks samplesperbuffer=960 num-buffers={periods} ! "
        "audio/x-raw,rate=48000,channels=2 ! audioconvert ! aacenc name=aenc ! mux. "
        f"mp4mux name=mux location={location}"
    )
    print(f"\nRecording {seconds:g} s of live test video + audio to {location}:")
    wall = run_until_eos(pipeline, timeout=seconds * 3 + 10)
    mux, venc, aenc = pipeline.get("mux"), pipeline.get("venc"), pipeline.get("aenc")
    assert isinstance(mux, AvMux) and isinstance(venc, H264Enc) and isinstance(aenc, AacEnc)
    video, audio = mux.stats["sink_0"], mux.stats["sink_1"]
    assert video.first_pts is not None and video.end is not None
    assert audio.first_pts is not None and audio.end is not None
    # The first AAC packet is the encoder's priming: the first real sample comes after it.
    audio_start = audio.first_pts + sample_time(AacEnc.priming_samples, 48000)
    print(f"  wall time {wall:.3f} s")
    print(
        f"  video: {video.packets} frames, PTS {format_time(video.first_pts)} .. "
        f"{format_time(video.end)}, span {format_time(video.end - video.first_pts)}"
    )
    print(
        f"  audio: {audio.packets - 1} AAC frames (+1 priming), first sample at "
        f"{format_time(audio_start)}, span {format_time(audio.end - audio_start)}"
    )
    print(f"  A/V start offset (audio - video): {audio_start - video.first_pts:+d} ns")
    print(f"  timestamp repairs: video {venc.repairs}, audio {aenc.repairs}")
    with av.open(location) as container:
        stream = container.streams.video[0]
        span = (stream.duration or 0) * (stream.time_base or 0)
        print(
            f"  {location} read back: {container.streams.video[0].codec_context.name} "
            f"{stream.codec_context.width}x{stream.codec_context.height} {float(span):.3f} s, "
            f"{container.streams.audio[0].codec_context.name} "
            f"{container.streams.audio[0].rate} Hz"
        )


def _late(sink: Sink) -> str:
    if not sink.late:
        return "0"
    return f"{sink.late} (worst {format_time(sink.max_late_ns)})"


if __name__ == "__main__":
    sys.exit(main())
