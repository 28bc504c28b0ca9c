"""Encoding overhead against same-run baselines (issue: codec elements, acceptance 6).

Ours: ``videotestsrc ! videoconvert ! h264enc ! mp4mux`` at 640x480, x264 ultrafast.
Baseline (asserted): PyAV alone encoding the same frames with the same settings in a plain
loop: swscale conversion (one reused context; PyAV's per-frame ``frame.reformat()`` builds
a new context and scaling-thread pool for every frame and took about twice the CPU, a
baseline that slow would flatter us), libx264, MP4 muxing. Parallax must reach 90% of its
frames per CPU second (overhead under 10%). videoconvert converts RGB to I420 in our own
kernel, which is faster than swscale (bench_convert.py), so Parallax beats this baseline.
Like for like (printed): the same loop converting with our kernel: the difference is what
the pipeline itself costs (threads, buffers, the test source's drawing).

All runs are timed in wall time and in CPU time of the whole process. The assertion uses
CPU time: on the shared 2-core machines the wall time of a 0.6 s run swings by +-20% with
other people's load, while the CPU a frame costs does not; wall frames/s are printed beside
it. Everything converts and encodes in one thread (videoconvert's default ``n-threads=1``,
h264enc ``threads=1``): scaling and x264 worker threads spend CPU waiting on each other by
how frames happen to arrive, which moved the measured overhead between -4% and +18% from
run to run and hid the pipeline's own cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from av.video.reformatter import VideoReformatter

import parallax
from parallax import SECOND, State
from parallax.caps import VideoFormat
from parallax.elements.transform.frames import rgb_to_i420

N = 240
WIDTH, HEIGHT = 640, 480
REPEATS = 8
NS = Fraction(1, SECOND)
CAPS = f"video/x-raw,format=RGB,width={WIDTH},height={HEIGHT},framerate=30/1"


Timing = tuple[float, float]  # (wall seconds, CPU seconds)


def timed(run: Callable[[], None]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def best_of_interleaved(*runs: Callable[[], Timing], repeats: int = REPEATS) -> list[Timing]:
    """Smallest wall and CPU time of each, measured in turns so that load from other
    processes on a shared machine falls on all alike."""
    timings = [[run() for run in runs] for _ in range(repeats)]
    return [
        (min(t[i][0] for t in timings), min(t[i][1] for t in timings)) for i in range(len(runs))
    ]


def sample_frames() -> list[np.ndarray[Any, Any]]:
    """The frames videotestsrc makes, collected once for the baseline."""
    pipeline = parallax.parse_launch(f"videotestsrc num-buffers={N} ! {CAPS} ! appsink name=out")
    pipeline.set_state(State.PLAYING)
    frames = [buffer.data for buffer in pipeline.get("out")]
    pipeline.set_state(State.NULL)
    assert len(frames) == N
    return frames  # type: ignore[return-value]


def parallax_encode(path: Path) -> Timing:
    """Time for our pipeline to make an MP4 of N frames."""
    pipeline = parallax.parse_launch(
        f"videotestsrc num-buffers={N} ! {CAPS} ! videoconvert ! "
        f"h264enc preset=ultrafast threads=1 ! mp4mux location={path}"
    )
    return timed(lambda: pipeline.run(timeout=120))


def pyav_encode(frames: list[np.ndarray[Any, Any]], path: Path, kernel: bool = False) -> Timing:
    """Time for PyAV alone to convert (swscale, or our ``kernel``), encode and mux the same
    frames the same way."""
    return timed(lambda: pyav_loop(frames, path, kernel))


def pyav_loop(frames: list[np.ndarray[Any, Any]], path: Path, kernel: bool = False) -> None:
    options = {"movie_timescale": str(SECOND), "movflags": "faststart"}
    with av.open(str(path), "w", format="mp4", options=options) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.time_base = NS
        context = stream.codec_context
        context.time_base = NS
        context.bit_rate = 2048 * 1000
        context.gop_size = 30
        context.max_b_frames = 0
        context.thread_count = 1
        context.options = {"preset": "ultrafast", "bf": "0"}
        reformatter = VideoReformatter()
        source = VideoFormat(WIDTH, HEIGHT, "RGB", Fraction(30))
        for n, rgb in enumerate(frames):
            if kernel:
                frame = av.VideoFrame.from_numpy_buffer(rgb_to_i420(rgb, source), "yuv420p")
            else:
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame = reformatter.reformat(
                    frame, format="yuv420p", interpolation="AREA", threads=1
                )
            frame.pts = n * SECOND // 30
            frame.time_base = NS
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_encoding_overhead_under_10_percent(benchmark, tmp_path, capsys, best_round):
    frames = sample_frames()
    ours, alone, like = best_round(
        lambda: best_of_interleaved(
            lambda: parallax_encode(tmp_path / "ours.mp4"),
            lambda: pyav_encode(frames, tmp_path / "alone.mp4"),
            lambda: pyav_encode(frames, tmp_path / "kernel.mp4", kernel=True),
        ),
        lambda times: times[0][1] / times[1][1],  # our CPU over PyAV's
        1 / 0.9,
        rounds=3,
    )
    cpu_ratio = alone[1] / ours[1]
    wall_ratio, like_ratio = alone[0] / ours[0], like[1] / ours[1]
    with capsys.disabled():
        print(
            f"\n{WIDTH}x{HEIGHT} RGB -> H.264 ultrafast -> MP4, {N} frames:\n"
            f"  wall: Parallax {N / ours[0]:.0f} fps, PyAV alone {N / alone[0]:.0f} fps "
            f"(Parallax reaches {wall_ratio:.0%})\n"
            f"  CPU:  Parallax {ours[1] / N * 1e3:.2f} ms/frame, PyAV alone "
            f"{alone[1] / N * 1e3:.2f} ms/frame (Parallax reaches {cpu_ratio:.0%} of PyAV's "
            f"frames per CPU second: overhead {1 / cpu_ratio - 1:+.0%})\n"
            f"  like for like (PyAV converting with our kernel too): "
            f"{like[1] / N * 1e3:.2f} ms/frame: the pipeline costs {1 / like_ratio - 1:+.0%}"
        )
    benchmark.extra_info["wall_fraction_of_pyav"] = wall_ratio
    benchmark.extra_info["cpu_fraction_of_pyav"] = cpu_ratio
    benchmark.extra_info["cpu_fraction_like_for_like"] = like_ratio
    benchmark.pedantic(parallax_encode, args=(tmp_path / "bench.mp4",), rounds=1, iterations=1)
    with av.open(str(tmp_path / "ours.mp4")) as container:
        assert container.streams.video[0].frames == N
    assert cpu_ratio >= 0.9


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "--benchmark-enable", "-q"])
