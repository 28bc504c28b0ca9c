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
        # As in appsrc: the deque is used without the lock; the Condition only for waiting,
        # notified only when the other side waits.
        self._queue: deque[object] = deque()
        self._changed = threading.Condition()
        self._puller_waiting = False
        self._renderer_waiting = False
        self._limit = 0
        self._drop = False
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
            self._limit = self.max_buffers
            self._drop = self.drop

    def unblock(self) -> None:
        """Wake a blocked render() or pull()."""
        with self._changed:
            self._changed.notify_all()

    def render(self, buffer: Buffer) -> None:
        """Queue the buffer for the application."""
        if self._limit and len(self._queue) >= self._limit and not self._make_room():
            return  # stopping
        self._queue.append(buffer)
        if self._puller_waiting:  # read after the append: see pull()
            with self._changed:
                self._changed.notify_all()

    def _chain(self, buffer: Buffer) -> None:
        # The hot path of numpy workflows, unsynchronised and unbounded: render's append
        # inlined here (no clock wait, no room check) saves two calls a buffer, about 5% of
        # the pipeline floor benchmark; every other case goes through Sink._chain.
        if self._sync or self._limit:
            Sink._chain(self, buffer)
            return
        self._queue.append(buffer)
        self.rendered += 1
        if self._puller_waiting:  # read after the append: see pull()
            with self._changed:
                self._changed.notify_all()

    def _make_room(self) -> bool:
        with self._changed:
            if self._drop:
                self._queue.popleft()
                self.overflowed += 1
                return True
            self._renderer_waiting = True
            try:
                while len(self._queue) >= self._limit:
                    if self._stopped():
                        return False
                    self._changed.wait()
                return True
            finally:
                self._renderer_waiting = False

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
        try:
            item = self._queue.popleft()
        except IndexError:
            item = self._wait_for_item(timeout)
        if item is _EOS:
            self._queue.appendleft(_EOS)  # stays queued: every later pull also sees the end
            return None
        if self._renderer_waiting:
            with self._changed:
                self._changed.notify_all()
        assert isinstance(item, Buffer)
        return item

    def _wait_for_item(self, timeout: float | None) -> object:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            self._puller_waiting = True  # before the check: see render()
            try:
                while not self._queue:
                    if self._stopped():
                        error = self.pipeline._error if self.pipeline is not None else None
                        if error is not None:
                            raise error
                        return _EOS
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError(f"{self.name}: no buffer within {timeout} s")
                    self._changed.wait(left)
                return self._queue.popleft()
            finally:
                self._puller_waiting = False

    def __iter__(self) -> Iterator[Buffer]:
        while (buffer := self.pull()) is not None:
            yield buffer
