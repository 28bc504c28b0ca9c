"""v4l2src: capture video from a V4L2 device, each frame stamped with the driver's timestamp."""

from __future__ import annotations

import errno
from typing import Any

import numpy as np

from parallax._ext.v4l2 import MappedBuffer, Stream
from parallax.buffer import Buffer, Metadata
from parallax.caps import VIDEO_RAW, Caps, Format, Structure, VideoFormat
from parallax.elements.device.v4l2device import Layout, V4l2Device
from parallax.elements.device.v4l2timestamps import (
    FrameTimestamps,
    TimestampPolicy,
    timestamp_source,
)
from parallax.errors import DeviceError, NegotiationError, ParallaxError, device_error
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Pad, Property, Source
from parallax.time import SECOND, format_time

# Buffers kept with the driver at least: below this a frame is copied and its buffer queued
# back at once, so capture goes on however many frames downstream holds.
MIN_QUEUED = 2


class V4l2Src(Source):
    """Capture from a V4L2 device (``/dev/videoN``); PTS from the driver's timestamps.

    Each frame's PTS is its ``v4l2_buffer.timestamp`` mapped to running time through the
    pipeline clock (``CLOCK_MONOTONIC`` timestamps; with the `SystemClock`, PTS = timestamp -
    base time exactly); ``meta.capture`` keeps the raw timestamp with its domain and
    ``meta.sequence`` the driver's sequence number. Timestamp problems and dropped frames are
    handled as `FrameTimestamps` describes. The source is live and provides no clock.

    Frames are numpy views of the driver's buffers (zero copy): a buffer goes back to the
    driver when the last view of its frame is gone. While downstream holds so many that fewer
    than two buffers are left with the driver, frames are copied instead (once reported on the
    bus); ``copy=true`` always copies (for applications that keep frames). With
    ``io-mode=dmabuf`` each buffer is also exported as a DMA-BUF: `dmabuf_fd` (frame) gives
    its fd.

    Example: ``v4l2src device=/dev/video0 num-buffers=60 ! video/x-raw,width=640,height=360,
    framerate=30/1 ! timestampdebug ! fakesink``.
    """

    factory_name = "v4l2src"
    description = "Video capture from a V4L2 device, timed by the driver's timestamps"
    is_live = True

    device = Property(str, "/dev/video0", "V4L2 device node")
    io_mode = Property(str, "mmap", "buffer I/O: mmap, or dmabuf (mmap + DMA-BUF export)",
                       choices=("mmap", "dmabuf"))  # fmt: skip
    num_buffers = Property(int, -1, "frames to capture, then end of stream (-1: forever)",
                           minimum=-1)  # fmt: skip
    device_buffers = Property(
        int, 4, "driver buffers to request (VIDIOC_REQBUFS)", minimum=MIN_QUEUED + 1, maximum=64
    )
    copy = Property(bool, False, "copy every frame and queue its buffer back at once")
    timestamp_policy = Property(
        str,
        "repair",
        "bogus driver timestamps (zero, backwards, far future): driver keeps them, repair "
        "replaces them (RESYNC), strict fails",
        choices=("driver", "repair", "strict"),
    )
    timeout = Property(int, 5 * SECOND, "ns to wait for a frame before failing", minimum=1)
    extra_controls = Property(
        str, "", "controls to set at open: name=value,... (e.g. timestamp_source=1)"
    )

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.dev: V4l2Device | None = None
        self.format: VideoFormat | None = None
        self.timestamps: FrameTimestamps | None = None
        self._layout: Layout | None = None
        self._stream: Stream | None = None
        self._frames = 0
        self._copy_reported = False

    # -- lifecycle ----------------------------------------------------------------------------

    def open(self) -> None:
        """Open the device, check it can capture, set ``extra-controls``.

        Raises
        ------
        DeviceError
            Missing, not a video capture device, bad control (the message says what exists).
        """
        if self.io_mode == "dmabuf" and self.copy:
            raise ValueError(
                f"{self.name}: io-mode=dmabuf hands out the driver's buffers; copy=true "
                "contradicts it (choose one)"
            )
        controls = _parse_controls(self.extra_controls, self.name)
        self.dev = V4l2Device(self.device)
        try:
            self.dev.set_controls(controls)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the device."""
        if self.dev is not None:
            self.dev.close()
            self.dev = None

    # -- negotiation --------------------------------------------------------------------------

    def src_caps(self, pad: Pad) -> Caps:
        """The device's formats, sizes and rates once open; before, any raw video."""
        if self.dev is None:
            return Caps.of(VIDEO_RAW)  # what the device gives is checked at negotiation
        return self.dev.caps()

    def preferred_fields(self) -> dict[str, Any]:
        """The device's current format where downstream leaves a choice."""
        current = self.dev.current_format() if self.dev is not None else None
        if current is None:
            return {}
        return dict(current.to_structure().fields)

    def no_format_error(self, downstream: Caps) -> ParallaxError:
        """Downstream wants nothing the device gives: a `DeviceError` saying what it gives."""
        assert self.dev is not None
        return DeviceError(
            self.device, f"{self.name}: cannot capture {downstream}; {self.dev.describe_modes()}"
        )

    def format_from_structure(self, structure: Structure) -> Format:
        """A `VideoFormat`; the rate may be 0 only if the device has no rate control."""
        fmt = VideoFormat.from_structure(structure)
        if fmt.width <= 0 or fmt.height <= 0:
            raise NegotiationError(f"{self.name}: needs a positive size, got {fmt}")
        return fmt

    def set_format(self, fmt: Format) -> None:
        """Set the format on the device (VIDIOC_S_FMT, S_PARM).

        Raises
        ------
        DeviceError
            Not supported (adjusted by the driver) or the device is busy.
        """
        assert isinstance(fmt, VideoFormat) and self.dev is not None
        self._layout = self.dev.configure(fmt)
        self.format = fmt

    @property
    def latency(self) -> int:
        """One frame interval (ns): a frame is stamped before it can be dequeued."""
        if self.format is None or self.format.frame_duration is None:
            return 0
        return self.format.frame_duration

    # -- streaming ----------------------------------------------------------------------------

    def start(self, context: ProduceContext) -> None:
        """Request and map the buffers, queue them, start streaming.

        Raises
        ------
        DeviceError
            The driver refused (`DeviceBusyError`: another file handle is streaming).
        """
        assert self.dev is not None and self.format is not None
        self._frames = 0
        self._copy_reported = False
        self.timestamps = FrameTimestamps(
            self.device, TimestampPolicy(self.timestamp_policy), self.format.frame_duration
        )
        stream = Stream(self.dev.fd)
        try:
            stream.request(self.device_buffers, export=self.io_mode == "dmabuf")
            for index in range(stream.count):
                stream.queue(index)
            stream.start()
        except OSError as error:
            busy = ""
            if error.errno == errno.EBUSY:
                busy = " (another program or element is streaming from it)"
            raise device_error(
                self.device,
                f"{self.name}: cannot start streaming{busy}: {error.strerror}",
                error.errno,
            ) from None
        self._stream = stream

    def stop(self) -> None:
        """Stop streaming (VIDIOC_STREAMOFF); report dropped frames and repaired timestamps."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
            except OSError as error:
                self.post_warning(f"{self.device}: VIDIOC_STREAMOFF failed: {error}")
        if self.timestamps is not None:
            summary = self.timestamps.summary()
            if summary is not None:
                self.post_warning(summary, dropped=self.timestamps.dropped_frames,
                                  problems=dict(self.timestamps.problems))  # fmt: skip

    def unblock(self) -> None:
        """Wake a waiting dequeue (teardown, end of stream)."""
        stream = self._stream
        if stream is not None:
            stream.wake()

    @property
    def dropped_frames(self) -> int:
        """Frames the driver dropped so far (sequence gaps)."""
        return self.timestamps.dropped_frames if self.timestamps is not None else 0

    def produce(self, context: ProduceContext) -> Buffer | None:
        """Dequeue the next frame and stamp it (waits at most ``timeout`` ns).

        Raises
        ------
        DeviceError
            No frame within ``timeout``, or the device failed (gone: `DeviceNotFoundError`).
        TimestampError
            A bogus timestamp under ``timestamp-policy=strict``.
        """
        stream, timestamps, layout = self._stream, self.timestamps, self._layout
        assert stream is not None and timestamps is not None and layout is not None
        if 0 <= self.num_buffers <= self._frames:
            return None
        try:
            got = stream.dequeue(self.timeout)
        except InterruptedError:
            return None  # unblock(): stopping or end of stream
        except OSError as error:
            raise device_error(
                self.device, f"{self.name}: capture failed: {error.strerror}", error.errno
            ) from None
        if got is None:
            raise device_error(
                self.device,
                f"{self.name}: no frame within {format_time(self.timeout)} "
                f"({stream.queued} of {stream.count} buffers with the driver); the device "
                "stalled or its signal is gone (raise timeout if it is just slow)",
                errno.ETIME,
            )
        if stream.requeue_errno:
            raise device_error(
                self.device, f"{self.name}: a buffer could not be queued back",
                stream.requeue_errno,
            )  # fmt: skip
        index, bytesused, flags, sequence, timestamp, _field, dequeued = got
        timing = timestamps.stamp(flags, sequence, timestamp, dequeued)
        for text in timing.warnings:
            self.post_warning(text, sequence=sequence)
        if self._frames == 0:
            source = timestamp_source(flags)
            self.post_message(
                f"{self.device}: driver timestamps: {timing.capture.domain.value}, {source.value}",
                domain=timing.capture.domain,
                source=source,
            )
        pts = context.to_running_time(timing.time)
        data = self._frame(stream, index, bytesused, layout)
        self._frames += 1
        meta = Metadata(
            pts=pts,
            duration=self.latency or None,
            offset=timing.position,
            offset_end=timing.position + 1,
            sequence=sequence,
            flags=timing.flags,
            capture=timing.capture,
        )
        return Buffer(data, meta)

    def _frame(
        self, stream: Stream, index: int, bytesused: int, layout: Layout
    ) -> np.ndarray[Any, Any]:
        mapped = stream.lease(index)
        view: np.ndarray[Any, Any] = np.ndarray(
            layout.shape, np.uint8, buffer=memoryview(mapped), strides=layout.strides
        )
        if self.copy:
            return view.copy()
        if stream.queued < MIN_QUEUED:
            if not self._copy_reported:
                self._copy_reported = True
                self.post_message(
                    f"{self.device}: downstream holds {stream.leased - 1} frames; copying "
                    f"frames while fewer than {MIN_QUEUED} buffers are with the driver "
                    "(raise device-buffers, or set copy=true)",
                    held=stream.leased - 1,
                )
            return view.copy()
        return view


def dmabuf_fd(data: object) -> int | None:
    """The DMA-BUF fd of a frame from ``v4l2src io-mode=dmabuf`` (or any view of one), None
    for other data. The fd stays open while the frame lives; ``os.dup`` it to keep it longer.
    """
    base = data
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    if isinstance(base, MappedBuffer) and base.dmabuf_fd >= 0:
        return base.dmabuf_fd
    return None


def _parse_controls(text: str, element: str) -> dict[str, int]:
    controls: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, value = item.partition("=")
        try:
            if not equals:
                raise ValueError
            controls[name.strip()] = int(value, 0)
        except ValueError:
            raise ValueError(
                f"{element}: extra-controls: {item!r} is not name=integer (e.g. timestamp_source=1)"
            ) from None
    return controls
