"""Per-buffer cost of the hand-off from PipeWire's process callback to a buffer in Python.

Both paths take the same buffers from the same stream in the same run (blocks alternate, so
machine load hits both alike): the C baseline takes each slot of the ring in a nogil loop
(`Capture._c_take_latencies`, no Python object per buffer); the Python path is what
pipewiresrc does per buffer: `Capture.take` (a `Frame` with its numpy array), the stamper,
the frame view and a `Buffer`. Each latency is CLOCK_MONOTONIC from the process callback's
entry to the consumer holding its result, so it includes the thread wake-up both pay.
Run: ``make bench`` (or ``pytest benchmarks/bench_pipewire.py --benchmark-enable``).
"""

import time
from fractions import Fraction

import numpy as np
import pytest

from parallax import Buffer, VideoFormat
from parallax._ext import pipewire as pw
from parallax.elements.device.pipewiresrc import ANY_ID, PipeWireSrc, _VideoStamper
from parallax.testing.pipewire import VIDEO_NODE

pytestmark = pytest.mark.pipewire

BLOCKS, PER_BLOCK = 4, 50
# 50 buffers/s: samples quickly, yet SPA's videotestsrc (live) survives a loaded machine. It
# loses a buffer from its pool each time a graph cycle overruns its frame interval and stops
# for good when the pool is empty (PipeWire 0.3.65); at 100/s on 2 busy cores that took ~3 s.
FORMAT = VideoFormat(64, 48, "RGB", Fraction(50))
WAIT_NS = 2_000_000_000


def python_latencies(capture, count, src, stamper):
    latencies = np.empty(count, np.int64)
    for i in range(count):
        frame = capture.take(WAIT_NS)
        assert frame is not None
        Buffer(src._video_data(frame), stamper.stamp(frame, lambda c: c.ns, src))
        latencies[i] = time.monotonic_ns() - frame.process_ns
    return latencies


def test_process_callback_to_python_buffer_vs_c_dequeue(benchmark, pipewire_daemon):
    capture = pw.Capture(pipewire_daemon.socket)
    try:
        serial = next(node[1] for node in capture.nodes() if node[2] == VIDEO_NODE)
        capture.connect_video(
            ANY_ID,
            {"media.type": "Video", "media.category": "Capture", "target.object": str(serial)},
            [pw.VIDEO_FORMATS["RGB"]],
            [(FORMAT.width, FORMAT.height)],
            [(FORMAT.fps.numerator, FORMAT.fps.denominator)],
        )
        assert capture.wait_format(WAIT_NS) == (pw.MEDIA_VIDEO, pw.VIDEO_FORMATS["RGB"], 64, 48,
                                                50, 1)  # fmt: skip
        src = PipeWireSrc()
        src.format = FORMAT
        stamper = _VideoStamper(FORMAT, "auto")
        capture.start()

        def run():
            c_parts, py_parts = [], []
            for _ in range(BLOCKS):
                c_parts.append(capture._c_take_latencies(PER_BLOCK, WAIT_NS))
                py_parts.append(python_latencies(capture, PER_BLOCK, src, stamper))
            return np.concatenate(c_parts), np.concatenate(py_parts)

        c_latency, py_latency = benchmark.pedantic(run, rounds=1, iterations=1)
        delivered, dropped, _ = capture.stats
    finally:
        capture.close()
    c_median, py_median = int(np.median(c_latency)), int(np.median(py_latency))
    ratio = py_median / c_median
    benchmark.extra_info.update(
        c_median_ns=c_median,
        python_median_ns=py_median,
        c_p90_ns=int(np.percentile(c_latency, 90)),
        python_p90_ns=int(np.percentile(py_latency, 90)),
        python_overhead_ns=py_median - c_median,
        ratio=round(ratio, 2),
        dropped=dropped,
    )
    print(f"\nprocess -> consumer, median: C {c_median} ns, Python {py_median} ns, x{ratio:.2f}")
    assert delivered >= 2 * BLOCKS * PER_BLOCK
    assert dropped == 0  # the Python consumer keeps up
    # The Python hand-off (wake-up, GIL, Frame, numpy array, metadata) stays within a small
    # multiple of the same hand-off in C.
    assert ratio < 10
