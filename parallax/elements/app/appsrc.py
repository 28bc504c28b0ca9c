"""appsrc: the application pushes numpy arrays (or buffers) into a pipeline."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import numpy as np

from parallax.buffer import Buffer, Metadata, Payload
from parallax.caps import AUDIO_RAW, VIDEO_RAW, AudioFormat, Caps, Format, Structure, VideoFormat
from parallax.elements.smoothing import SMOOTHING_MODES, TimestampSmoother
from parallax.errors import NegotiationError, PipelineError, TimestampError
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Pad, Property, Source
from parallax.time import sample_time

_EOS = object()


class AppSrc(Source):
    """Feed a pipeline from Python.

    ``push(data, pts=None, duration=None)`` queues a numpy array (or bytes, or a whole
    `Buffer` whose metadata is kept as is); ``end_of_stream()`` ends the stream after what is
    queued. With ``do-timestamp=true`` a buffer pushed without a PTS is stamped with the
    pipeline's running time at the push. ``push`` blocks while ``max-buffers`` are queued
    (``block=true``, the default) or raises.

    Such stamps carry the application's scheduling jitter: ``timestamp-smoothing=dll`` or
    ``regression`` (`parallax.elements.smoothing`) fits every PTS against the buffer's
    nominal position (samples at the caps rate for audio, frames at the framerate for
    video, else the sum of the pushed durations) and replaces it with the fitted time.
    Example::

        src = parallax.make("appsrc", caps="video/x-raw,format=GRAY8,width=4,height=4,"
                            "framerate=30/1")
        ...
        src.push(np.zeros((4, 4), np.uint8), pts=0, duration=33_333_333)
    """

    BATCH = 64  # buffers handed to the streaming loop per produce() call at most

    factory_name = "appsrc"
    description = "Push numpy arrays or buffers from the application"
    caps = Property(Caps, Caps.any(), "format of the pushed data (gst-launch caps string)")
    is_live = Property(bool, False, "the data is live (sinks sync by default)")
    do_timestamp = Property(bool, False, "stamp buffers pushed without PTS with running time")
    max_buffers = Property(int, 64, "buffers queued at most (0: no limit)", minimum=0)
    block = Property(bool, True, "push blocks when full (else raises)")
    timestamp_smoothing = Property(
        str, "none", "dejitter PTS against nominal positions", choices=SMOOTHING_MODES
    )

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        # The streaming thread takes from the deque without the lock (deque operations are
        # atomic); the lock and its Condition are only for waiting, and a side notifies only
        # when the other side says it waits: this keeps the per-buffer cost low.
        self._queue: deque[object] = deque()
        self._changed = threading.Condition()
        self._consumer_waiting = False
        self._pushers_waiting = 0
        self._stamp_at_produce = False
        self._smoother: TimestampSmoother | None = None
        self._nominal_position = 0  # samples, frames or ns pushed so far (for smoothing)
        self._ended = False  # the end-of-stream mark was taken from the queue
        self.format: Format | None = None

    def src_caps(self, pad: Pad) -> Caps:
        """The ``caps`` property."""
        return self.caps

    def format_from_structure(self, structure: Structure) -> Format:
        """Raw video and audio become `VideoFormat` / `AudioFormat`; others stay structures."""
        try:
            if structure.media == VIDEO_RAW:
                return VideoFormat.from_structure(structure)
            if structure.media == AUDIO_RAW:
                return AudioFormat.from_structure(structure)
        except NegotiationError:
            pass  # incomplete raw caps: the application knows its data; keep them as given
        return structure

    def set_format(self, fmt: Format) -> None:
        """Remember the negotiated format."""
        self.format = fmt

    def start(self, context: ProduceContext) -> None:
        """Cache ``do-timestamp`` and set up smoothing for the streaming thread."""
        self._stamp_at_produce = self.do_timestamp
        mode = self.timestamp_smoothing
        self._smoother = None if mode == "none" else TimestampSmoother(mode, self.name)
        self._nominal_position = 0
        self._ended = False

    def push(
        self, data: Payload | Buffer, pts: int | None = None, duration: int | None = None
    ) -> None:
        """Queue one buffer (any thread).

        Parameters
        ----------
        data : ndarray, bytes or Buffer
            The payload; a `Buffer` keeps its own metadata (``pts``/``duration`` override).
        pts : int or None
            Running time, ns.
        duration : int or None
            ns.

        Raises
        ------
        PipelineError
            After ``end_of_stream``, or when full and ``block=false``.
        """
        if isinstance(data, Buffer):
            buffer = data
        elif isinstance(data, np.ndarray | bytes):
            buffer = Buffer(data, Metadata())
        else:
            raise TypeError(f"{self.name}: push() takes a numpy array, bytes or a Buffer")
        if pts is not None:
            buffer.meta.pts = pts
        if duration is not None:
            buffer.meta.duration = duration
        if buffer.meta.pts is None and self.do_timestamp and self.context is not None:
            buffer.meta.pts = self.context.running_time()
        limit = self.max_buffers
        with self._changed:
            if self._ended or (self._queue and self._queue[-1] is _EOS):
                raise PipelineError(self.name, "push() after end_of_stream()")
            if limit and len(self._queue) >= limit:
                if not self.block:
                    raise PipelineError(self.name, f"queue full ({limit} buffers)")
                self._pushers_waiting += 1  # before the check: see produce()
                try:
                    while len(self._queue) >= limit:
                        if self.pipeline is not None and self.pipeline.stopping:
                            return
                        self._changed.wait()
                finally:
                    self._pushers_waiting -= 1
            self._queue.append(buffer)
            if self._consumer_waiting:
                self._changed.notify_all()

    def end_of_stream(self) -> None:
        """End the stream after the buffers already pushed."""
        with self._changed:
            self._queue.append(_EOS)
            self._changed.notify_all()

    def unblock(self) -> None:
        """Wake a blocked produce() or push() for teardown."""
        with self._changed:
            self._changed.notify_all()

    def _wait_for_items(self, context: ProduceContext) -> bool:
        """Wait until something is queued; False when the stream ends instead."""
        if self._ended:
            return False
        with self._changed:
            self._consumer_waiting = True
            try:
                while not self._queue:
                    if context.stopping or self.eos_requested:
                        return False
                    self._changed.wait()
                return True
            finally:
                self._consumer_waiting = False

    def produce(self, context: ProduceContext) -> Buffer | list[Buffer] | None:
        """Every buffer pushed so far, up to `BATCH` of them, as one batch; blocks until one
        is pushed; None at end of stream. Taking what is queued in one go costs the
        streaming loop one call per batch instead of one per buffer, and never delays a
        buffer: the batch is only what already waits.
        """
        queue = self._queue
        if not queue and not self._wait_for_items(context):
            return None
        pop = queue.popleft
        batch: list[Any] = [pop() for _ in range(min(len(queue), self.BATCH))]
        if self._pushers_waiting:  # read after the pops: a pusher counted itself before its check
            with self._changed:
                self._changed.notify_all()
        if batch[-1] is _EOS:  # only ever the last item pushed
            batch.pop()
            self._ended = True
            if not batch:
                return None
        if self._stamp_at_produce or self._smoother is not None:
            for buffer in batch:
                if self._stamp_at_produce and buffer.meta.pts is None:
                    buffer.meta.pts = context.running_time()  # pushed before PLAYING
                if self._smoother is not None and buffer.meta.pts is not None:
                    self._smooth(buffer)
        return batch if len(batch) > 1 else batch[0]

    def _smooth(self, buffer: Buffer) -> None:
        assert self._smoother is not None and buffer.meta.pts is not None
        fmt, start = self.format, self._nominal_position
        if isinstance(fmt, AudioFormat) and fmt.rate > 0 and isinstance(buffer.data, np.ndarray):
            end = start + len(buffer.data)
            nominal, nominal_end = sample_time(start, fmt.rate), sample_time(end, fmt.rate)
        elif isinstance(fmt, VideoFormat) and fmt.fps > 0:
            end = start + 1
            nominal, nominal_end = fmt.frame_pts(start), fmt.frame_pts(end)
        elif buffer.meta.duration is not None:
            end = start + buffer.meta.duration
            nominal, nominal_end = start, end
        else:
            raise TimestampError(
                f"{self.name}: timestamp-smoothing needs raw audio caps with a rate, raw "
                "video caps with a framerate, or a duration on every buffer"
            )
        self._nominal_position = end
        buffer.meta.pts = self._smoother.smooth(buffer.meta.pts, nominal, nominal_end)
