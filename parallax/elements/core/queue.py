"""queue: a bounded buffer between two streaming threads."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from parallax.buffer import Buffer
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Property, Transform

_EOS = object()


class Queue(Transform):
    """Hand buffers to a new streaming thread through a bounded queue.

    When full, upstream blocks (``leaky=no``), the incoming buffer is dropped
    (``leaky=upstream``) or the oldest queued one is (``leaky=downstream``). Every drop is
    counted in ``dropped`` and reported with a QOS message: never silent.
    Example: ``videotestsrc is-live=true ! queue max-size-buffers=5 leaky=downstream ! fakesink``.
    """

    factory_name = "queue"
    description = "Bounded queue between two streaming threads"
    max_size_buffers = Property(int, 200, "buffers queued at most (0: no limit)", minimum=0)
    max_size_time = Property(int, 0, "ns of PTS span queued at most (0: no limit)", minimum=0)
    leaky = Property(str, "no", "what to do when full", choices=("no", "upstream", "downstream"))

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self._items: deque[object] = deque()
        self._changed = threading.Condition()
        self.dropped = 0

    def start(self, context: ProduceContext) -> None:
        """Empty the queue."""
        with self._changed:
            self._items.clear()
            self.dropped = 0

    def unblock(self) -> None:
        """Wake both threads for teardown."""
        with self._changed:
            self._changed.notify_all()

    def streaming_loops(self) -> list[Callable[[], None]]:
        """The downstream thread."""
        return [self._loop]

    def _full(self) -> bool:
        items = self._items
        if self.max_size_buffers and len(items) >= self.max_size_buffers:
            return True
        if self.max_size_time and len(items) >= 2:
            first, last = items[0], items[-1]
            first_pts = first.pts if isinstance(first, Buffer) else None
            last_pts = last.pts if isinstance(last, Buffer) else None
            if first_pts is not None and last_pts is not None:
                return last_pts - first_pts >= self.max_size_time
        return False

    def _drop(self, buffer: Buffer) -> None:
        self.dropped += 1
        if self.context is not None and buffer.pts is not None:
            self.context.post_qos(self, buffer.pts, 0, dropped=True)

    def _chain(self, buffer: Buffer) -> None:
        assert self.pipeline is not None
        pipeline = self.pipeline
        with self._changed:
            while self._full():
                if self.leaky == "upstream":
                    self._drop(buffer)
                    return
                if self.leaky == "downstream":
                    oldest = self._items.popleft()
                    assert isinstance(oldest, Buffer)
                    self._drop(oldest)
                    continue
                if pipeline.stopping:
                    return
                self._changed.wait()
            self._items.append(buffer)
            self._changed.notify_all()

    def _receive_eos(self, pad: object) -> None:
        with self._changed:
            self._items.append(_EOS)
            self._changed.notify_all()

    def _loop(self) -> None:
        assert self.pipeline is not None
        pipeline = self.pipeline
        while True:
            with self._changed:
                while not self._items:
                    if pipeline.stopping:
                        return
                    self._changed.wait()
                item = self._items.popleft()
                self._changed.notify_all()
            if item is _EOS:
                self._push_eos()
                return
            self._push(item)  # type: ignore[arg-type]
