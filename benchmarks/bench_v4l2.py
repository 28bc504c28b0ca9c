"""Per-frame cost of v4l2src against the raw V4L2 ioctls and linuxpy's capture loop (lab).

Run inside the lab VM: ``make bench-lab``. Every round first waits (untimed) until vivid has
filled a buffer, then times only the work on one frame:

* ``raw``: VIDIOC_DQBUF + VIDIOC_QBUF through `parallax._ext.v4l2.Stream` (the floor);
* ``parallax``: `V4l2Src.produce`: dequeue, numpy view of the mapped buffer (zero copy),
  timestamp policy, running time, metadata, and the re-queue when the frame is dropped;
* ``linuxpy``: linuxpy's ``MemoryMap.raw_read`` (DQBUF through ctypes, a copy of the frame,
  QBUF), what its ``for frame in device`` loop does per frame.

`test_ratios` asserts the overhead ratios on the medians of this same run.
"""

from __future__ import annotations

import select
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
from linuxpy.video.device import Device, VideoCapture

from parallax._ext.v4l2 import Stream
from parallax.caps import VideoFormat
from parallax.clock import SystemClock
from parallax.elements.device.v4l2device import V4l2Device
from parallax.elements.device.v4l2src import V4l2Src
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.graph import Pipeline

pytestmark = pytest.mark.lab

DEVICE = "/dev/video0"
FORMAT = VideoFormat(640, 360, "YUY2", Fraction(30))
ROUNDS = 40
MEDIANS: dict[str, float] = {}


def wait_readable(fd: int) -> Callable[[], None]:
    def setup() -> None:
        ready, _, _ = select.select([fd], [], [], 5)
        assert ready, "vivid gave no frame within 5 s"

    return setup


def measure(benchmark: Any, name: str, setup: Callable[[], None], work: Callable[[], None]) -> None:
    benchmark.pedantic(work, setup=setup, rounds=ROUNDS, warmup_rounds=3)
    if benchmark.stats is not None:  # None under --benchmark-disable
        MEDIANS[name] = benchmark.stats.stats.median


def test_raw_ioctls(benchmark: Any) -> None:
    device = V4l2Device(DEVICE)
    device.configure(FORMAT)
    stream = Stream(device.fd)
    stream.request(4)
    for index in range(stream.count):
        stream.queue(index)
    stream.start()
    try:

        def dequeue_and_queue() -> None:
            got = stream.dequeue(0)
            assert got is not None
            stream.queue(got[0])

        measure(benchmark, "raw", wait_readable(device.fd), dequeue_and_queue)
    finally:
        stream.stop()
        device.close()


def test_parallax_frame(benchmark: Any) -> None:
    source = V4l2Src(device=DEVICE)
    source.open()
    source.src_pad.format = FORMAT
    source.set_format(FORMAT)
    pipeline = Pipeline()
    context = ProduceContext(pipeline, SystemClock())
    pipeline.base_time = context.clock.now()
    source.start(context)
    try:

        def produce_and_release() -> None:
            buffer = source.produce(context)
            assert buffer is not None and buffer.pts is not None
            # dropping it here gives the buffer back to the driver

        assert source.dev is not None
        measure(benchmark, "parallax", wait_readable(source.dev.fd), produce_and_release)
    finally:
        source.stop()
        source.close()


def test_linuxpy_capture_loop(benchmark: Any) -> None:
    with Device(DEVICE) as device:
        device.set_format(1, FORMAT.width, FORMAT.height, "YUYV")
        device.set_fps(1, FORMAT.fps)
        with VideoCapture(device, size=4) as capture:
            memory = capture.buffer

            def read_frame() -> None:
                frame = memory.raw_read()
                assert len(frame) == FORMAT.width * FORMAT.height * 2

            measure(benchmark, "linuxpy", wait_readable(device.fileno()), read_frame)


def test_ratios() -> None:
    assert set(MEDIANS) == {"raw", "parallax", "linuxpy"}, "run with --benchmark-enable"
    overhead = MEDIANS["parallax"] / MEDIANS["raw"]
    versus_linuxpy = MEDIANS["parallax"] / MEDIANS["linuxpy"]
    print(
        f"\nper frame (median): raw ioctls {MEDIANS['raw'] * 1e6:.1f} us, parallax "
        f"{MEDIANS['parallax'] * 1e6:.1f} us ({overhead:.1f}x raw), linuxpy "
        f"{MEDIANS['linuxpy'] * 1e6:.1f} us (parallax/linuxpy {versus_linuxpy:.2f})"
    )
    assert versus_linuxpy < 1.0  # no copy, no ctypes: cheaper than linuxpy's loop
    assert overhead < 20  # the Python per frame stays within a small multiple of two ioctls
