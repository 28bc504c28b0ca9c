"""`Aggregator`: several inputs, one streaming thread, buffers handled in DTS order.

Muxers are aggregators: each input (a request pad ``sink_0``, ``sink_1``, ...) has a bounded
queue filled by its upstream thread; the aggregator's own thread takes the buffer with the
smallest DTS across the inputs, waiting for an input with nothing queued at most ``latency``
ns of real time, so that a stalled stream does not hold up the others.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from parallax.buffer import Buffer
from parallax.caps import Caps, Format
from parallax.pipeline.element import Element, ElementFailedError, Pad, Property, _Pusher
from parallax.time import MSECOND


class _Input:
    __slots__ = ("ended", "pad", "queue")

    def __init__(self, pad: Pad) -> None:
        self.pad = pad
        self.queue: deque[Buffer] = deque()
        self.ended = False


class Aggregator(_Pusher, Element):
    """Base of elements with several inputs (muxers).

    Subclasses implement `aggregate` (and `finish`), `pad_caps` and `output_format`. If the
    src pad is not linked, the aggregator is the end of the pipeline (a muxer that writes its
    file itself) and counts as a sink for end of stream.
    """

    latency = Property(
        int,
        200 * MSECOND,
        "ns of real time to wait for an input with nothing queued before going on without it",
        minimum=0,
    )
    max_queued = Property(int, 64, "buffers queued per input before upstream blocks", minimum=1)

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.src_pad = self._add_src_pad()
        self._inputs: dict[Pad, _Input] = {}
        self._changed = threading.Condition()
        self._starved_since: float | None = None

    # -- hooks ------------------------------------------------------------------------------

    def pad_caps(self, pad: Pad) -> Caps:
        """Caps accepted on an input pad."""
        return Caps.any()

    def set_pad_format(self, pad: Pad, fmt: Format) -> None:
        """The negotiated format of one input."""

    def output_format(self) -> Format | None:
        """The output format once every input has one (None: no output)."""
        return None

    def aggregate(self, pad: Pad, buffer: Buffer) -> Buffer | Iterable[Buffer] | None:
        """Handle the next buffer in DTS order across inputs."""
        return buffer

    def finish(self) -> Iterable[Buffer]:
        """All inputs ended: return what is left (a muxer closes its file here)."""
        return ()

    # -- plumbing ---------------------------------------------------------------------------

    def sink_caps(self, pad: Pad) -> Caps:
        """Caps accepted on an input: `pad_caps`."""
        return self.pad_caps(pad)

    def _free_sink_pad(self) -> Pad | None:
        pad = self._add_sink_pad(f"sink_{len(self.sink_pads)}")
        return pad

    def _accept_format(self, pad: Pad, fmt: Format) -> None:
        super()._accept_format(pad, fmt)
        self.set_pad_format(pad, fmt)

    def _configured_output(self) -> Format | None:
        if all(pad.format is not None for pad in self.sink_pads):
            self._bind_downstream()
            return self.output_format()
        return None

    def start(self, context: object) -> None:
        """Reset the input queues."""
        with self._changed:
            self._inputs = {pad: _Input(pad) for pad in self.sink_pads}
            self._starved_since = None

    def unblock(self) -> None:
        """Wake the aggregating thread and blocked upstream threads."""
        with self._changed:
            self._changed.notify_all()

    def _receiver(self, pad: Pad) -> Callable[[Buffer], None]:
        def receive(buffer: Buffer) -> None:
            self._enqueue(pad, buffer)

        return receive

    def _enqueue(self, pad: Pad, buffer: Buffer) -> None:
        stopping = self._stopping
        with self._changed:
            entry = self._inputs[pad]
            while len(entry.queue) >= self.max_queued and not stopping():
                self._changed.wait()
            entry.queue.append(buffer)
            self._changed.notify_all()

    def _receive_eos(self, pad: Pad) -> None:
        with self._changed:
            self._inputs[pad].ended = True
            self._changed.notify_all()

    def _stopping(self) -> bool:
        return self.pipeline is None or self.pipeline.stopping

    def streaming_loops(self) -> list[Callable[[], None]]:
        """One aggregating thread."""
        return [self._loop]

    def _next(self) -> tuple[Pad, Buffer] | None:
        """Block until a buffer may go (DTS order, bounded wait) or everything ended (None)."""
        with self._changed:
            while not self._stopping():
                inputs = list(self._inputs.values())
                ready = [i for i in inputs if i.queue]
                starved = [i for i in inputs if not i.queue and not i.ended]
                if not ready and not starved:
                    return None
                if not starved:
                    self._starved_since = None
                if ready:
                    if starved:
                        # An input with nothing queued may still send an earlier DTS: wait
                        # for it, but only `latency` in all, counted from when it went quiet.
                        now = time.monotonic()
                        if self._starved_since is None:
                            self._starved_since = now
                        left = self.latency / 1e9 - (now - self._starved_since)
                        if left > 0:
                            self._changed.wait(left)
                            continue
                    chosen = min(ready, key=_queue_head_dts)
                    buffer = chosen.queue.popleft()
                    self._changed.notify_all()
                    return chosen.pad, buffer
                self._changed.wait()
        return None

    def _loop(self) -> None:
        while True:
            item = self._next()
            if item is None:
                break
            pad, buffer = item
            try:
                result = self.aggregate(pad, buffer)
            except Exception as error:
                raise ElementFailedError(self, error) from error
            self._send(result)
        if self._stopping():
            return
        try:
            remaining = list(self.finish())
        except Exception as error:
            raise ElementFailedError(self, error) from error
        self._send(remaining)
        if self.src_pad.peer is not None:
            self._push_eos()
        else:
            assert self.pipeline is not None
            self.pipeline._sink_reached_eos(self)

    def _send(self, result: Buffer | Iterable[Buffer] | None) -> None:
        if result is None or self.src_pad.peer is None:
            return
        if isinstance(result, Buffer):
            self._push(result)
        else:
            for item in result:
                self._push(item)


def _queue_head_dts(entry: _Input) -> int:
    dts = entry.queue[0].meta.effective_dts
    return -(2**63) if dts is None else dts
