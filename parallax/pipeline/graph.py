"""`Pipeline`: a graph of elements, its states, its clock and its bus."""

from __future__ import annotations

import enum
import itertools
import logging
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from parallax.caps import Caps, Format
from parallax.clock.base import Clock, ClockProvider, select_clock
from parallax.errors import LinkError, NegotiationError, PipelineError
from parallax.pipeline.aggregator import Aggregator
from parallax.pipeline.bus import Bus, Message, MessageType
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Element, Pad, Source, Transform
from parallax.pipeline.executor import Executor
from parallax.time import MSECOND, format_time

log = logging.getLogger("parallax.pipeline")

JOIN_TIMEOUT = 1.0
"""Seconds teardown waits for all streaming threads together."""

PROCESSING_DEADLINE = 20 * MSECOND
"""ns a live pipeline allows for processing between a source and a sync sink (GStreamer's
``processing-deadline``): without it every buffer would reach its sink a few microseconds
after its render time, late by the time it took to make it."""


class State(enum.IntEnum):
    """Pipeline states, in order."""

    NULL = 0
    READY = 1
    PAUSED = 2
    PLAYING = 3


class Pipeline:
    """Elements linked in a graph, run by streaming threads on one clock.

    Parameters
    ----------
    name : str
        Shown in messages.

    Examples
    --------
    >>> import parallax
    >>> with parallax.parse_launch("videotestsrc num-buffers=3 ! fakesink") as pipeline:
    ...     pipeline.run(timeout=10)
    """

    def __init__(self, name: str = "pipeline") -> None:
        self.name = name
        self.bus = Bus()
        self.state = State.NULL
        self._elements: dict[str, Element] = {}
        self._forced_clock: Clock | None = None
        self._clock: Clock | None = None
        self._clock_provider: Element | None = None
        self.base_time = 0
        self.latency = 0
        self.processing_deadline = PROCESSING_DEADLINE
        self.is_live = False
        self._executor = Executor(self._element_failed)
        self._playing = threading.Event()
        self._streaming = False  # PLAYING and not stopping: what the source loops check
        self._interrupt = threading.Event()
        self._stopping = threading.Event()
        self._paused_at: int | None = None
        self._pending_sinks: set[Element] = set()
        self._error: PipelineError | None = None
        self._lock = threading.Lock()

    # -- building ---------------------------------------------------------------------------

    def add(self, *elements: Element) -> None:
        """Add elements (names must be unique in the pipeline)."""
        for element in elements:
            if element.name in self._elements:
                raise LinkError(f"{self.name}: an element named {element.name!r} is already in it")
            if element.pipeline is not None:
                raise LinkError(f"{element.name} is already in pipeline {element.pipeline.name}")
            element.pipeline = self
            self._elements[element.name] = element

    def link(self, *elements: Element) -> None:
        """Link elements in a chain: ``link(a, b, c)`` is a -> b -> c (adding any not added)."""
        for element in elements:
            if element.pipeline is None:
                self.add(element)
            elif element.pipeline is not self:
                raise LinkError(f"{element.name} belongs to another pipeline")
        for upstream, downstream in itertools.pairwise(elements):
            self.link_pads(upstream, downstream)

    def link_pads(
        self, upstream: Element, downstream: Element, sink_pad: str | None = None
    ) -> tuple[Pad, Pad]:
        """Link ``upstream``'s free src pad to ``downstream``'s free (or named) sink pad.

        Raises
        ------
        LinkError
            No free pad on either side.
        NegotiationError
            The two elements' caps have nothing in common.
        """
        src = next((pad for pad in upstream.src_pads if pad.peer is None), None)
        if src is None:
            what = "has no output" if not upstream.src_pads else "is already linked"
            raise LinkError(
                f"cannot link {upstream.name} ! {downstream.name}: {upstream.name} {what}"
            )
        if sink_pad is not None:
            sink = next((p for p in downstream.sink_pads if p.name == sink_pad), None)
            if sink is None or sink.peer is not None:
                raise LinkError(f"{downstream.name} has no free sink pad {sink_pad!r}")
        else:
            found = downstream._free_sink_pad()
            if found is None:
                what = "has no input" if not downstream.sink_pads else "is already linked"
                raise LinkError(
                    f"cannot link {upstream.name} ! {downstream.name}: {downstream.name} {what}"
                )
            sink = found
        give, take = upstream.src_caps(src), downstream.sink_caps(sink)
        if give.intersect(take).is_empty:
            raise NegotiationError(
                f"cannot link {upstream.name} ! {downstream.name}: {upstream.name} gives "
                f"{give}; {downstream.name} takes {take}"
            )
        src.peer, sink.peer = sink, src
        return src, sink

    def get(self, name: str) -> Element:
        """Return the element called ``name``."""
        try:
            return self._elements[name]
        except KeyError:
            raise KeyError(
                f"{self.name} has no element {name!r}; it has: {', '.join(self._elements)}"
            ) from None

    @property
    def elements(self) -> list[Element]:
        """Elements, upstream first (sources, then by distance from a source)."""
        depth: dict[Element, int] = {}
        frontier = [e for e in self._elements.values() if not e.sink_pads]
        for element in frontier:
            depth[element] = 0
        while frontier:
            following = []
            for element in frontier:
                for pad in element.src_pads:
                    if pad.peer is not None:
                        child = pad.peer.element
                        if depth.get(child, -1) < depth[element] + 1 <= len(self._elements):
                            depth[child] = depth[element] + 1
                            following.append(child)
            frontier = following
        order = list(self._elements.values())
        return sorted(order, key=lambda e: (depth.get(e, len(order)), order.index(e)))

    def __iter__(self) -> Iterator[Element]:
        return iter(self.elements)

    # -- time -------------------------------------------------------------------------------

    def use_clock(self, clock: Clock | None) -> None:
        """Force the pipeline clock (None: choose automatically again)."""
        if self.state == State.PLAYING:
            raise PipelineError(self.name, "use_clock() must be called before PLAYING")
        self._forced_clock = clock

    @property
    def clock(self) -> Clock | None:
        """The clock chosen at PLAYING (None before)."""
        return self._clock

    @property
    def clock_provider(self) -> Element | None:
        """The element whose clock was chosen (None: forced, the system fallback, or not yet)."""
        return self._clock_provider

    @property
    def clock_forced(self) -> bool:
        """True when `use_clock` chose the clock."""
        return self._forced_clock is not None

    def running_time(self) -> int:
        """Running time now, ns (clock time minus base time)."""
        if self._clock is None:
            raise PipelineError(self.name, "no clock yet: the pipeline has not played")
        return self._clock.now() - self.base_time

    @property
    def stopping(self) -> bool:
        """True once teardown or a failure began: blocking calls must return."""
        return self._stopping.is_set()

    def _await_playing(self) -> bool:
        """Block while PAUSED; False once stopping."""
        if not self._playing.is_set():
            self._playing.wait()
        return not self._stopping.is_set()

    # -- states -----------------------------------------------------------------------------

    def set_state(self, target: State) -> None:
        """Move through the states up or down to ``target``.

        Raises
        ------
        LinkError, NegotiationError, DeviceError, ...
            Going up failed; the pipeline is back in NULL.
        """
        target = State(target)
        try:
            while self.state < target:
                self._step_up(State(self.state + 1))
        except BaseException:
            self._teardown()
            raise
        if target < self.state:
            if target == State.PAUSED and self.state == State.PLAYING:
                self._pause()
            elif target <= State.READY:
                self._teardown(target)

    def _set(self, new: State) -> None:
        old, self.state = self.state, new
        self.bus.post(
            Message(
                MessageType.STATE_CHANGED,
                self.name,
                f"{old.name} -> {new.name}",
                {"old": old, "new": new},
            )
        )

    def _step_up(self, new: State) -> None:
        if new == State.READY:
            self._stopping.clear()
            self._error = None
            for element in self.elements:
                element.open()
        elif new == State.PAUSED:
            self._check_links()
            self._negotiate()
        elif new == State.PLAYING:
            if self._paused_at is not None:
                self._resume()
            else:
                self._start_streaming()
        self._set(new)

    def _pause(self) -> None:
        assert self._clock is not None
        self._paused_at = self._clock.now()
        self._streaming = False
        self._playing.clear()
        self._interrupt.set()
        self._set(State.PAUSED)

    def _resume(self) -> None:
        assert self._clock is not None and self._paused_at is not None
        self.base_time += self._clock.now() - self._paused_at
        self._paused_at = None
        self._interrupt = threading.Event()
        self._streaming = True
        self._playing.set()

    def _start_streaming(self) -> None:
        elements = self.elements
        clock, provider = self._choose_clock(elements)
        self._clock, self._clock_provider = clock, provider
        sources = [e for e in elements if isinstance(e, Source)]
        self.is_live = any(s.is_live for s in sources)
        self.latency = (
            max(s.latency for s in sources if s.is_live) + self.processing_deadline
            if self.is_live
            else 0
        )
        self._pending_sinks = {e for e in elements if self._is_terminal(e)}
        self._interrupt = threading.Event()
        context = ProduceContext(self, clock)
        for element in reversed(elements):
            element._prepare(context)
        self.base_time = clock.now()
        for element in reversed(elements):  # sinks first, so they are ready for data
            element.start(context)
        self._streaming = True
        self._playing.set()
        for element in elements:
            for loop in element.streaming_loops():
                self._executor.start(element, loop)

    def _choose_clock(self, elements: list[Element]) -> tuple[Clock, Element | None]:
        if self._forced_clock is not None:
            clock, chosen, priority = self._forced_clock, None, None
            how = "set by use_clock()"
        else:
            providers = [e for e in elements if isinstance(e, ClockProvider)]
            clock, provider = select_clock(providers)
            chosen = provider if isinstance(provider, Element) else None
            priority = provider.clock_priority() if provider is not None else None
            how = f"priority {priority}" if provider is not None else "fallback"
        text = f"Pipeline clock: {clock.name} ({how})"
        log.info(text)
        self.bus.post(
            Message(
                MessageType.CLOCK_SELECTED,
                chosen.name if chosen else self.name,
                text,
                {"clock": clock, "priority": priority, "provider": chosen},
            )
        )
        return clock, chosen

    def _teardown(self, target: State = State.NULL) -> None:
        self._begin_stop()
        alive = self._executor.join(JOIN_TIMEOUT)
        if alive and self._error is None:
            self._error = PipelineError(self.name, f"streaming threads did not stop: {alive}")
        for element in self.elements:
            try:
                element.stop()
            finally:
                element.context = None
        if target == State.NULL:
            for element in self.elements:
                element.close()
        self._paused_at = None
        if self.state != target:
            self._set(target)

    def _begin_stop(self) -> None:
        self._streaming = False
        self._stopping.set()
        self._interrupt.set()
        self._playing.set()
        for element in self._elements.values():
            element.unblock()

    # -- negotiation ------------------------------------------------------------------------

    @staticmethod
    def _is_terminal(element: Element) -> bool:
        return bool(element.sink_pads) and all(pad.peer is None for pad in element.src_pads)

    def _check_links(self) -> None:
        for element in self._elements.values():
            for pad in element.sink_pads:
                if pad.peer is None:
                    raise LinkError(f"{element.name}: input {pad.name} is not linked")
            if isinstance(element, Source | Transform) and element.src_pad.peer is None:
                raise LinkError(f"{element.name}: output is not linked to anything")
        if not any(isinstance(e, Source) for e in self._elements.values()):
            raise LinkError(f"{self.name}: no source element")

    def _negotiate(self) -> None:
        for source in [e for e in self.elements if isinstance(e, Source)]:
            downstream = self._downstream_caps(source.src_pad)
            allowed = source.src_caps(source.src_pad).intersect(downstream)
            if allowed.is_empty:
                raise source.no_format_error(downstream)
            fmt = source.fixate_format(allowed)
            source.src_pad.format = fmt
            source.set_format(fmt)
            source._bind_downstream()
            self._configure(source.src_pad, fmt)

    def _downstream_caps(self, src: Pad) -> Caps:
        assert src.peer is not None
        sink = src.peer
        element = sink.element
        if not isinstance(element, Transform):
            return element.sink_caps(sink)
        downstream = self._downstream_caps(element.src_pad)
        caps = element.transform_caps(downstream)
        if caps.is_empty:
            raise NegotiationError(
                f"{element.name}: downstream accepts {downstream}, which {element.name} cannot "
                f"make from anything it takes ({element.sink_caps(sink)})"
            )
        return caps

    def _configure(self, src: Pad, fmt: Format) -> None:
        assert src.peer is not None
        sink = src.peer
        element = sink.element
        element._accept_format(sink, fmt)
        if isinstance(element, Transform):
            out = element.set_format(fmt, self._downstream_caps(element.src_pad))
            element.src_pad.format = out
            element._bind_downstream()
            self._configure(element.src_pad, out)
        elif isinstance(element, Aggregator):
            output = element._configured_output()
            if output is not None and element.src_pad.peer is not None:
                element.src_pad.format = output
                self._configure(element.src_pad, output)

    # -- running ----------------------------------------------------------------------------

    def run(self, timeout: float | None = None) -> None:
        """Play until end of stream, then tear down (back to NULL).

        Parameters
        ----------
        timeout : float or None
            Seconds of wall time to wait for EOS.

        Raises
        ------
        PipelineError
            An element failed (its exception is the ``__cause__``).
        TimeoutError
            No EOS within ``timeout``.
        """
        try:
            self.set_state(State.PLAYING)
            message = self.bus.pop(timeout, types={MessageType.EOS, MessageType.ERROR})
            if message is None:
                raise TimeoutError(f"{self.name}: no end of stream within {timeout} s")
        finally:
            self.set_state(State.NULL)
        if self._error is not None:
            raise self._error

    def send_eos(self) -> None:
        """End every source's stream after its current buffer (for Ctrl-C: files close)."""
        for element in self._elements.values():
            if isinstance(element, Source):
                element.send_eos()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.set_state(State.NULL)

    # -- reports from elements ----------------------------------------------------------------

    def _element_failed(self, element: Element, error: BaseException) -> None:
        with self._lock:
            first = self._error is None
            if first:
                failure = PipelineError(element.name, f"{type(error).__name__}: {error}")
                failure.__cause__ = error
                self._error = failure
        if first and not self.stopping:
            log.error("%s", self._error)
            self.bus.post(Message(MessageType.ERROR, element.name, str(error), error=self._error))
        self._begin_stop()

    def _sink_reached_eos(self, sink: Element) -> None:
        with self._lock:
            self._pending_sinks.discard(sink)
            done = not self._pending_sinks
        if done:
            self.bus.post(Message(MessageType.EOS, self.name, "end of stream"))

    def post_warning(self, element: Element, text: str, **data: Any) -> None:
        """Post a WARNING from ``element`` and log it."""
        log.warning("%s: %s", element.name, text)
        self.bus.post(Message(MessageType.WARNING, element.name, text, data))

    def post_element_message(self, element: Element, text: str, **data: Any) -> None:
        """Post an ELEMENT message from ``element``."""
        self.bus.post(Message(MessageType.ELEMENT, element.name, text, data))

    def post_qos(self, element: Element, pts: int, lateness: int, *, dropped: bool) -> None:
        """Post a QOS message about a late buffer."""
        what = "dropped" if dropped else "late"
        self.bus.post(
            Message(
                MessageType.QOS,
                element.name,
                f"buffer pts={format_time(pts)} {what} by {format_time(lateness)}",
                {"pts": pts, "lateness": lateness, "dropped": dropped},
            )
        )

    # -- pictures ---------------------------------------------------------------------------

    def to_dot(self) -> str:
        """Graphviz ``dot`` source: each element, its negotiated caps, the selected clock."""
        from parallax.pipeline.dot import to_dot

        return to_dot(self)

    def _repr_svg_(self) -> str | None:
        """Jupyter's drawing (needs Graphviz ``dot``; else Jupyter shows the plain text)."""
        from parallax.pipeline.dot import to_svg

        return to_svg(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain text: one line per link with its caps, and the clock."""
        from parallax.pipeline.dot import to_text

        printer.text(repr(self) if cycle else to_text(self))

    def __repr__(self) -> str:
        return f"<Pipeline {self.name!r} {self.state.name} {list(self._elements)}>"
