"""v4l2src on the host (no V4L2 device here): bad input gives clear errors, never a hang. The same
cases against the real vivid driver are in test_v4l2src_lab.py."""

from __future__ import annotations

import errno
import glob
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import parallax
from parallax._ext.v4l2 import Stream
from parallax.caps import PIXEL_FORMATS
from parallax.elements.device.v4l2device import (
    FOURCC_FORMATS,
    V4l2Device,
    fourcc_code,
    fourcc_text,
    frame_layout,
    list_devices,
)
from parallax.elements.device.v4l2src import V4l2Src, dmabuf_fd
from parallax.errors import DeviceError, DeviceNotFoundError
from parallax.pipeline.graph import State
from parallax.time import MSECOND


def missing_path() -> str:
    return next(f"/dev/video{n}" for n in range(7, 100) if not os.path.exists(f"/dev/video{n}"))


def test_missing_device_names_it_and_what_exists() -> None:
    path = missing_path()
    with pytest.raises(DeviceNotFoundError) as caught:
        V4l2Device(path)
    assert isinstance(caught.value, FileNotFoundError)
    assert caught.value.errno == errno.ENOENT
    assert caught.value.device == path
    text = str(caught.value)
    assert path in text and "no such device" in text
    if glob.glob("/dev/video*"):  # a machine with cameras: they are listed
        assert "found /dev/video" in text
    else:
        assert "there is no /dev/video* device on this machine" in text


@pytest.mark.parametrize("path", ["/dev/null", "/dev/zero"])
def test_a_character_device_that_is_not_v4l2(path: str) -> None:
    with pytest.raises(DeviceError, match=rf"{path}: not a V4L2 video device") as caught:
        V4l2Device(path)
    assert caught.value.errno == errno.ENOTTY


def test_a_regular_file_and_a_directory(tmp_path: Path) -> None:
    regular = tmp_path / "video0"
    regular.write_bytes(b"not a camera")
    with pytest.raises(DeviceError, match="not a V4L2 video device"):
        V4l2Device(str(regular))
    with pytest.raises(DeviceError, match="cannot open it") as caught:
        V4l2Device(str(tmp_path))
    assert caught.value.errno == errno.EISDIR


def test_open_failure_leaves_no_fd_behind() -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with pytest.raises(DeviceError):
            V4l2Device("/dev/null")
    assert len(os.listdir("/proc/self/fd")) == before


def test_pipeline_with_missing_device_fails_at_start_and_tears_down() -> None:
    path = missing_path()
    pipeline = parallax.parse_launch(f"v4l2src name=camera device={path} ! fakesink")
    with pytest.raises(DeviceNotFoundError, match=path):
        pipeline.set_state(State.PLAYING)
    assert pipeline.state == State.NULL
    assert pipeline.get("camera").dev is None  # type: ignore[attr-defined]


def test_list_devices_lists_the_nodes() -> None:
    nodes = sorted(glob.glob("/dev/video*"), key=lambda p: (len(p), p))
    assert [path for path, _ in list_devices()] == nodes


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"io_mode": "userptr"}, "expected one of mmap, dmabuf"),
        ({"device_buffers": 2}, "must be >= 3"),
        ({"timestamp_policy": "trust"}, "expected one of driver, repair, strict"),
        ({"timeout": 0}, "must be >= 1"),
    ],
)
def test_bad_properties(properties: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parallax.make("v4l2src", **properties)


def test_dmabuf_and_copy_contradict() -> None:
    source = V4l2Src(io_mode="dmabuf", copy=True)
    with pytest.raises(ValueError, match=r"io-mode=dmabuf .* copy=true"):
        source.open()


def test_bad_extra_controls() -> None:
    source = V4l2Src(extra_controls="timestamp_source")
    with pytest.raises(ValueError, match="not name=integer"):
        source.open()


# -- formats and layouts -------------------------------------------------------------------------


def test_fourccs_map_to_known_pixel_formats() -> None:
    assert set(FOURCC_FORMATS.values()) <= set(PIXEL_FORMATS)
    assert FOURCC_FORMATS["YUYV"] == "YUY2" and FOURCC_FORMATS["YU12"] == "I420"
    assert fourcc_code("YUYV") == 0x56595559  # v4l2_fourcc('Y','U','Y','V')
    for fourcc in FOURCC_FORMATS:
        assert fourcc_text(fourcc_code(fourcc)) == fourcc


@pytest.mark.parametrize(
    ("fmt", "bytesperline", "sizeimage", "shape", "strides"),
    [
        ("YUY2", 1280, 1280 * 360, (360, 640, 2), (1280, 2, 1)),
        ("RGB", 1920, 1920 * 360, (360, 640, 3), (1920, 3, 1)),
        ("BGRx", 2560, 2560 * 360, (360, 640, 4), (2560, 4, 1)),
        ("GRAY8", 704, 704 * 360, (360, 640), (704, 1)),  # padded rows
        ("NV12", 640, 640 * 540, (540, 640), (640, 1)),
        ("I420", 704, 704 * 540, (704 * 540,), (1,)),  # padded planes: flat
    ],
)
def test_frame_layout(
    fmt: str, bytesperline: int, sizeimage: int, shape: tuple[int], strides: tuple[int]
) -> None:
    layout = frame_layout(fmt, 640, 360, bytesperline, sizeimage)
    assert (layout.shape, layout.strides, layout.nbytes) == (shape, strides, sizeimage)
    # the view fits the buffer
    memory = np.zeros(sizeimage, np.uint8)
    view = np.ndarray(layout.shape, np.uint8, buffer=memory, strides=layout.strides)
    assert view.shape == shape


def test_dmabuf_fd_of_ordinary_data_is_none() -> None:
    assert dmabuf_fd(np.zeros((2, 2), np.uint8)) is None
    assert dmabuf_fd(b"bytes") is None


# -- the Cython stream on real file descriptors --------------------------------------------------


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    os.close(read_end)
    os.close(write_end)


def test_stream_ioctls_on_a_non_v4l2_fd_raise_with_errno() -> None:
    fd = os.open("/dev/null", os.O_RDWR)
    try:
        stream = Stream(fd)
        with pytest.raises(OSError, match="VIDIOC_REQBUFS") as caught:
            stream.request(4)
        assert caught.value.errno == errno.ENOTTY
        with pytest.raises(OSError, match="VIDIOC_STREAMON"):
            stream.start()
        with pytest.raises(IndexError):
            stream.queue(0)
    finally:
        os.close(fd)


def test_dequeue_times_out(pipe: tuple[int, int]) -> None:
    stream = Stream(pipe[0])  # never readable: nothing is written
    assert stream.dequeue(20 * MSECOND) is None
    assert stream.dequeue(0) is None
    with pytest.raises(ValueError, match=">= 0"):
        stream.dequeue(-1)


def test_wake_interrupts_a_dequeue(pipe: tuple[int, int]) -> None:
    import threading

    stream = Stream(pipe[0])
    waker = threading.Timer(0.05, stream.wake)
    waker.start()
    with pytest.raises(InterruptedError):
        stream.dequeue(60 * 10**9)  # would wait a minute: the wake ends it
    waker.join()
    stream.wake()  # a wake before the dequeue is kept for it
    with pytest.raises(InterruptedError):
        stream.dequeue(60 * 10**9)
    assert stream.dequeue(0) is None  # consumed


def test_readable_fd_that_cannot_dequeue_fails_instead_of_spinning(pipe: tuple[int, int]) -> None:
    os.write(pipe[1], b"x")  # poll says readable; VIDIOC_DQBUF on a pipe is ENOTTY
    stream = Stream(pipe[0])
    with pytest.raises(OSError, match="VIDIOC_DQBUF") as caught:
        stream.dequeue(10**9)
    assert caught.value.errno == errno.ENOTTY
