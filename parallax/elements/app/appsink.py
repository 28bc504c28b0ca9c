"""appsink: the application pulls buffers out of a pipeline."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator

from parallax.buffer import Buffer
from parallax.caps import Caps, Format
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Pad, Property, Sink

_EOS = object()


class AppSink(Sink):
    """Hand buffers to Python: iterate it, or ``pull(timeout)``.

    ``for buffer in appsink`` yields every buffer until end of stream (and raises the
    pipeline's error if it failed). With ``max-buffers`` set, a full sink blocks the
    pipeline (``drop=false``) or drops its oldest buffer, counting it in ``overflowed``.
    Example::

        pipeline = parallax.parse_launch("videotestsrc num-buffers=5 ! appsink name=out")
        pipeline.set_state(State.PLAYING)
        frames = [buffer.data for buffer in pipeline.get("out")]
    """

    factory_name = "appsink"
    description = "Pull buffers into the application"
    caps = Property(Caps, Caps.any(), "formats accepted (gst-launch caps string)")
    max_buffers = Property(int, 0, "buffers held at most (0: no limit)", minimum=0)
    drop = Property(bool, False, "when full, drop the oldest buffer instead of blocking")

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self._queue: deque[object] = deque()
        self._changed = threading.Condition()
        self.overflowed = 0
        self.format: Format | None = None

    def sink_caps(self, pad: Pad) -> Caps:
        """The ``caps`` property."""
        return self.caps

    def set_format(self, fmt: Format) -> None:
        """Remember the negotiated format (``appsink.format``)."""
        self.format = fmt

    def start(self, context: ProduceContext) -> None:
        """Forget buffers of an earlier run."""
        with self._changed:
            self._queue.clear()
            self.overflowed = 0

    def unblock(self) -> None:
        """Wake a blocked render() or pull()."""
        with self._changed:
            self._changed.notify_all()

    def render(self, buffer: Buffer) -> None:
        """Queue the buffer for the application."""
        with self._changed:
            while self.max_buffers and len(self._queue) >= self.max_buffers:
                if self.drop:
                    self._queue.popleft()
                    self.overflowed += 1
                    break
                if self._stopped():
                    return
                self._changed.wait()
            self._queue.append(buffer)
            self._changed.notify_all()

    def finish(self) -> None:
        """Mark the end of stream for the application."""
        with self._changed:
            self._queue.append(_EOS)
            self._changed.notify_all()

    def _stopped(self) -> bool:
        return self.pipeline is None or self.pipeline.stopping

    def pull(self, timeout: float | None = None) -> Buffer | None:
        """Return the next buffer, or None at end of stream.

        Parameters
        ----------
        timeout : float or None
            Seconds to wait (None: until a buffer or the end comes).

        Raises
        ------
        TimeoutError
            Nothing came within ``timeout``.
        PipelineError
            The pipeline failed and nothing is left to pull.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not self._queue:
                if self._stopped():
                    error = self.pipeline._error if self.pipeline is not None else None
                    if error is not None:
                        raise error
                    return None
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"{self.name}: no buffer within {timeout} s")
                self._changed.wait(left)
            item = self._queue[0]
            if item is _EOS:
                return None  # stays queued: every later pull also sees the end
            self._queue.popleft()
            self._changed.notify_all()
        assert isinstance(item, Buffer)
        return item

    def __iter__(self) -> Iterator[Buffer]:
        while (buffer := self.pull()) is not None:
            yield buffer
