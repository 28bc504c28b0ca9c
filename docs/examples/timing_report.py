"""Capture live test video and audio, then check their timing.

    python docs/examples/timing_report.py --seconds 3 --plot timing.png

The muxers are not in yet, so the buffers go to an ``appsink`` (numpy arrays with int-ns
timestamps) and ``timestampdebug keep-pts=true`` keeps every PTS for the report. Once
``parallax record`` lands, ``parallax analyze demo.mp4`` gives the same report from the file.
"""

from __future__ import annotations

import argparse

import numpy as np

import parallax
from parallax import SECOND, State
from parallax.analysis import TimingReport


def capture(seconds: float) -> tuple[parallax.Pipeline, list[parallax.Buffer]]:
    """Run live test sources for ``seconds``; return the pipeline and the video frames."""
    frames, periods = round(seconds * 30), round(seconds * 48000 / 1024)
    pipeline = parallax.parse_launch(
        f"videotestsrc is-live=true num-buffers={frames} ! "
        "video/x-raw,width=160,height=120,framerate=30/1 ! "
        "timestampdebug name=video keep-pts=true silent=true ! appsink name=frames "
        f"audiotestsrc is-live=true num-buffers={periods} samplesperbuffer=1024 ! "
        "audio/x-raw,rate=48000,channels=2 ! "
        "timestampdebug name=audio keep-pts=true silent=true ! appsink name=samples"
    )
    pipeline.set_state(State.PLAYING)
    video = list(pipeline.get("frames"))  # until end of stream
    list(pipeline.get("samples"))
    pipeline.set_state(State.NULL)
    return pipeline, video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--plot", default=None, help="write the plots to this file")
    args = parser.parse_args()

    pipeline, video = capture(args.seconds)
    print(pipeline.clock and f"pipeline clock: {pipeline.clock.name}")

    # Any int64 array of ns works: here the PTS of the frames the application received.
    pts = np.array([frame.pts for frame in video], dtype=np.int64)
    print(TimingReport.from_pts(pts, nominal=SECOND // 30, name="appsink frames").summary())

    report = TimingReport.from_element(pipeline.get("video"), pipeline.get("audio"))
    print(report.summary())
    if args.plot:
        report.plot(args.plot)
        print(f"plots written to {args.plot}")


if __name__ == "__main__":
    main()
