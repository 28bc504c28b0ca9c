"""The ``parallax`` command: ``launch``, ``inspect``, ``demo``, ``devices``, ``record``,
``analyze``.

Every error prints one line and exits non-zero; ``--verbose`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

import numpy as np

from parallax.clock.base import ClockProvider
from parallax.elements import FACTORIES, element_class
from parallax.elements.core.fakesink import FakeSink
from parallax.elements.debug.timestampdebug import TimestampDebug, TimestampStats
from parallax.errors import ParallaxError
from parallax.pipeline import MessageType, Pipeline, State, parse_launch
from parallax.pipeline.element import Element, Sink
from parallax.time import SECOND, format_time, sample_pts

if TYPE_CHECKING:
    from parallax.record import RecordPlan

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

    record = commands.add_parser(
        "record", help="record video and audio to MP4 or MPEG-TS with capture timestamps"
    )
    record.add_argument("output", metavar="OUT.mp4|OUT.ts", help="the file to write")
    record.add_argument(
        "--video", metavar="DEV", help="/dev/videoN, 'test' or 'none' (default: test sources)"
    )
    record.add_argument(
        "--audio",
        metavar="DEV",
        help="ALSA name (hw:Loopback,1,0), pipewire[:TARGET], 'test' or 'none'",
    )
    record.add_argument("--screen", action="store_true", help="record the screen as video")
    record.add_argument("--duration", type=float, metavar="S", help="seconds (default: Ctrl-C)")
    record.add_argument("--size", default="640x480", help="video WIDTHxHEIGHT (640x480)")
    record.add_argument("--fps", default="30", help="video frame rate, e.g. 30 or 30000/1001")
    record.add_argument("--rate", type=int, default=48000, help="audio samples per second")
    record.add_argument("--channels", type=int, default=2, help="audio channels")

    analyze = commands.add_parser(
        "analyze", help="timing report of a media file (MP4, TS) or a timestampdebug log"
    )
    analyze.add_argument("file", help="a media file, or a saved timestampdebug log (.log)")
    analyze.add_argument("--json", action="store_true", help="print the report as JSON")
    analyze.add_argument("--plot", metavar="OUT.png", help="draw the timing plots to a file")

    devices = commands.add_parser(
        "devices", help="list V4L2 video, ALSA audio and PipeWire devices"
    )
    devices.add_argument("--json", action="store_true", help="print the listing as JSON")

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
        if args.command == "devices":
            return run_devices(as_json=args.json)
        if args.command == "record":
            return run_record(record_plan(args))
        if args.command == "analyze":
            return run_analyze(args.file, as_json=args.json, plot=args.plot)
        return run_demo(args.seconds, args.output)
    except (ParallaxError, TimeoutError, OSError, ValueError, ImportError) as error:
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

    from parallax.record import RecordPlan

    print(f"\nRecording {seconds:g} s of live test video + audio to {output}:")
    return run_record(RecordPlan(output, duration=seconds, width=320, height=240))


def run_devices(*, as_json: bool) -> int:
    """``parallax devices``: what can be captured here, and what could not be looked at."""
    from parallax.devices import format_sections, list_devices

    sections = list_devices()
    if as_json:
        print(json.dumps({s.key: s.to_dict() for s in sections}, indent=2))
    else:
        print(format_sections(sections), end="")
    return 0


def record_plan(args: argparse.Namespace) -> RecordPlan:
    """The `RecordPlan` of ``parallax record``'s arguments (checked)."""
    from fractions import Fraction

    from parallax.record import TEST, RecordPlan

    def source(value: str | None, default: str | None) -> str | None:
        if value is None:
            return default
        return None if value == "none" else value

    if args.screen and args.video not in (None, "none"):
        raise ValueError("--screen and --video both give the video: choose one")
    nothing_given = args.video is None and args.audio is None and not args.screen
    if nothing_given:
        print("parallax: no --video or --audio given: recording the built-in test sources "
              "(`parallax devices` lists real ones)")  # fmt: skip
    video = "screen" if args.screen else source(args.video, TEST if nothing_given else None)
    audio = source(args.audio, TEST if nothing_given else None)
    width, _, height = args.size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise ValueError(f"--size must be WIDTHxHEIGHT like 640x480, not {args.size!r}")
    try:
        fps = Fraction(args.fps)
    except (ValueError, ZeroDivisionError):
        raise ValueError(
            f"--fps must be a number or a fraction like 30000/1001, not {args.fps!r}"
        ) from None
    return RecordPlan(
        output=args.output,
        video=video,
        audio=audio,
        duration=args.duration,
        width=int(width),
        height=int(height),
        fps=fps,
        rate=args.rate,
        channels=args.channels,
    )


def progress_line(
    elapsed: float, video: TimestampStats | None, audio: TimestampStats | None
) -> str:
    """``elapsed 3.0 s | video 90 frames, 0 dropped | audio 141 buffers, 0 gaps | A/V +0.0 ms``."""
    parts = [f"elapsed {elapsed:5.1f} s"]
    if video is not None:
        parts.append(f"video {video.buffers} frames, {video.gaps} gaps")
    if audio is not None:
        parts.append(f"audio {audio.buffers} buffers, {audio.gaps} gaps")
    if video and audio and video.first_pts is not None and audio.first_pts is not None:
        parts.append(f"A/V {(audio.first_pts - video.first_pts) / 1e6:+.1f} ms")
    return " | ".join(parts)


def run_record(plan: RecordPlan) -> int:
    """``parallax record``: capture, encode and mux; a progress line; the timing report."""
    from parallax.analysis import TimingReport
    from parallax.elements.codec.aacenc import AacEnc
    from parallax.elements.codec.h264enc import H264Enc
    from parallax.record import build_pipeline

    pipeline = build_pipeline(plan)
    debugs = [e for e in pipeline if isinstance(e, TimestampDebug)]
    video = next((d for d in debugs if d.name == "video"), None)
    audio = next((d for d in debugs if d.name == "audio"), None)
    stop = threading.Event()
    start = time.monotonic()

    def show_progress() -> None:
        from rich.console import Console
        from rich.live import Live

        with Live(console=Console(stderr=True), auto_refresh=False, transient=True) as live:
            while not stop.wait(0.5):
                line = progress_line(
                    time.monotonic() - start,
                    video.stats if video else None,
                    audio.stats if audio else None,
                )
                live.update(line, refresh=True)

    def end_after_duration(duration: int) -> None:
        # `duration` ns of content, on the pipeline clock, from the first captured buffer (a
        # device may start delivering well after PLAYING)
        while not stop.wait(0.01):
            firsts = [d.stats.first_pts for d in debugs if d.stats.first_pts is not None]
            clock = pipeline.clock
            if firsts and clock is not None:
                if clock.wait_until(pipeline.base_time + min(firsts) + duration, stop):
                    pipeline.send_eos()
                return

    helpers = []
    # A progress line that rewrites itself only makes sense on a terminal.
    if sys.stderr.isatty():
        helpers.append(threading.Thread(target=show_progress, name="progress", daemon=True))
    # Test sources stop themselves after exactly duration x rate buffers; devices are stopped.
    if plan.duration is not None and not plan.uses_test_sources:
        duration = round(plan.duration * SECOND)
        helpers.append(threading.Thread(target=end_after_duration, args=(duration,), daemon=True))
    for helper in helpers:
        helper.start()
    try:
        run_until_eos(pipeline, timeout=None)
    finally:
        stop.set()
        for helper in helpers:
            helper.join()
    wall = time.monotonic() - start
    print(f"wrote {plan.output} in {wall:.3f} s wall time")
    repairs = [f"{e.name} {e.repairs}" for e in pipeline if isinstance(e, H264Enc | AacEnc)]
    print(f"timestamp repairs: {', '.join(repairs) or 'none'}")
    print(TimingReport.from_element(*debugs).summary().replace("Timing of", "Captured:", 1))
    print(TimingReport.from_file(plan.output).summary())
    return 0


def run_analyze(path: str, *, as_json: bool, plot: str | None) -> int:
    """``parallax analyze``: the timing report of a file, as text or JSON, and its plots."""
    from parallax.analysis import TimingReport

    report = TimingReport.load(path)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary())
    if plot is not None:
        report.plot(plot)
        # stderr: with --json, stdout stays one JSON document
        print(f"parallax: plots written to {plot}", file=sys.stderr)
    return 0


def _late(sink: Sink) -> str:
    if not sink.late:
        return "0"
    return f"{sink.late} (worst {format_time(sink.max_late_ns)})"


if __name__ == "__main__":
    sys.exit(main())
