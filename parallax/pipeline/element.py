"""Elements: properties, pads, and the four kinds (Source, Transform, Sink, Aggregator).

Buffers move by direct calls: a source's streaming thread calls ``_push`` (bound at
negotiation to the downstream element's ``_chain``), and so on down to a sink, a `Queue` or an
aggregator pad, where another thread takes over. An element's own failure is wrapped in
`ElementFailedError` at the element, so the pipeline can name it; failures from further
downstream pass through untouched.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from parallax.buffer import Buffer
from parallax.caps import Caps, Format, Structure, fixate, format_to_structure
from parallax.errors import NegotiationError, ParallaxError
from parallax.time import SECOND

if TYPE_CHECKING:
    from parallax.pipeline.context import ProduceContext
    from parallax.pipeline.graph import Pipeline

T = TypeVar("T")


class ElementFailedError(Exception):
    """Internal: carries the element whose own code raised, up to the streaming thread."""

    def __init__(self, element: Element, error: BaseException) -> None:
        super().__init__(f"{element.name}: {error}")
        self.element = element
        self.error = error


_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


class Property(Generic[T]):
    """A typed element property with a default and docs, settable by its dashed name.

    Parameters
    ----------
    kind : type
        ``int``, ``bool``, ``str``, ``float``, ``Fraction`` or ``Caps``.
    default : value
        The default (None allowed where documented: "unset").
    doc : str
        One line for ``parallax inspect``; say the unit.
    choices : tuple, optional
        Allowed values (strings for enum-like properties).
    minimum, maximum : number, optional
        Inclusive bounds.
    """

    def __init__(
        self,
        kind: type,
        default: T,
        doc: str,
        *,
        choices: tuple[T, ...] | None = None,
        minimum: int | float | None = None,
        maximum: int | float | None = None,
    ) -> None:
        self.kind = kind
        self.default = default
        self.doc = doc
        self.choices = choices
        self.minimum = minimum
        self.maximum = maximum
        self.attr = ""
        self.name = ""

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr
        self.name = attr.replace("_", "-")

    @overload
    def __get__(self, obj: None, owner: type) -> Property[T]: ...
    @overload
    def __get__(self, obj: Element, owner: type) -> T: ...
    def __get__(self, obj: Element | None, owner: type) -> T | Property[T]:
        if obj is None:
            return self
        value: T = obj._properties.get(self.attr, self.default)  # type: ignore[assignment]
        return value

    def __set__(self, obj: Element, value: object) -> None:
        obj._properties[self.attr] = self.convert(value, obj.name)

    def convert(self, value: object, element: str = "?") -> T:
        """Convert ``value`` (a Python value or a gst-launch string) and check it.

        Raises
        ------
        ValueError
            The value does not fit; the message names the element and property.
        """

        def bad(why: str) -> ValueError:
            return ValueError(f"{element}: property {self.name}={value!r}: {why}")

        converted: Any = value
        if value is None:
            if self.default is not None:
                raise bad("must be set")
            return value  # type: ignore[return-value]
        if self.kind is bool:
            if isinstance(value, str):
                if value.lower() not in _TRUE | _FALSE:
                    raise bad("expected true or false")
                converted = value.lower() in _TRUE
            elif not isinstance(value, bool):
                raise bad("expected a bool")
        elif self.kind is int:
            try:
                converted = int(value) if isinstance(value, str | int) else None
            except ValueError:
                converted = None
            if converted is None or isinstance(value, bool):
                raise bad("expected an integer")
        elif self.kind is float:
            try:
                converted = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise bad("expected a number") from None
        elif self.kind is Fraction:
            try:
                converted = Fraction(value)  # type: ignore[call-overload]
            except (TypeError, ValueError, ZeroDivisionError):
                raise bad("expected a fraction like 30/1") from None
        elif self.kind is Caps:
            if isinstance(value, str):
                converted = Caps.parse(value)
            elif not isinstance(value, Caps):
                raise bad("expected caps like video/x-raw,width=640")
        elif self.kind is str and not isinstance(value, str):
            raise bad("expected a string")
        if self.choices is not None and converted not in self.choices:
            raise bad(f"expected one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and converted < self.minimum:
            raise bad(f"must be >= {self.minimum}")
        if self.maximum is not None and converted > self.maximum:
            raise bad(f"must be <= {self.maximum}")
        return converted  # type: ignore[no-any-return]


class Pad:
    """One end of a link: an element's input (sink) or output (src)."""

    __slots__ = ("element", "format", "is_src", "name", "peer")

    def __init__(self, element: Element, name: str, *, is_src: bool) -> None:
        self.element = element
        self.name = name
        self.is_src = is_src
        self.peer: Pad | None = None
        self.format: Format | None = None

    def __repr__(self) -> str:
        return f"<Pad {self.element.name}.{self.name}>"


class Element:
    """Base of every element.

    Subclasses set ``factory_name`` and ``description``, declare `Property` attributes, and
    implement the hooks of their kind. Lifecycle: ``open`` (NULL -> READY: check properties,
    open devices), negotiation (READY -> PAUSED), ``start`` (before streaming, with the
    context), ``stop`` and ``close`` (back to NULL; always called, also after a failure).
    """

    factory_name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    _counters: ClassVar[dict[str, itertools.count[int]]] = {}

    def __init__(self, name: str | None = None, **properties: object) -> None:
        self._properties: dict[str, object] = {}
        if name is None:
            counter = Element._counters.setdefault(self.factory_name, itertools.count())
            name = f"{self.factory_name or type(self).__name__.lower()}{next(counter)}"
        self.name = name
        self.pipeline: Pipeline | None = None
        self.context: ProduceContext | None = None
        self.sink_pads: list[Pad] = []
        self.src_pads: list[Pad] = []
        for key, value in properties.items():
            self.set_property(key, value)

    # -- properties -----------------------------------------------------------------------

    @classmethod
    def properties(cls) -> dict[str, Property[Any]]:
        """All properties by dashed name, in declaration order (base classes first)."""
        found: dict[str, Property[Any]] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                if isinstance(value, Property):
                    found[value.name] = value
        return found

    def set_property(self, name: str, value: object) -> None:
        """Set a property by dashed or underscored name (strings are converted).

        Raises
        ------
        ValueError
            Unknown property (the message lists the known ones) or a bad value.
        """
        known = self.properties()
        prop = known.get(name.replace("_", "-"))
        if prop is None:
            raise ValueError(
                f"{self.name}: {self.factory_name or type(self).__name__} has no property "
                f"{name!r}; it has: {', '.join(known) or 'none'}"
            )
        self._properties[prop.attr] = prop.convert(value, self.name)

    def get_property(self, name: str) -> object:
        """Return a property by dashed or underscored name."""
        prop = self.properties().get(name.replace("_", "-"))
        if prop is None:
            raise ValueError(f"{self.name}: no property {name!r}")
        return getattr(self, prop.attr)

    # -- lifecycle hooks ------------------------------------------------------------------

    def open(self) -> None:
        """NULL -> READY: check properties, open devices. Raise `DeviceError` and friends."""

    def start(self, context: ProduceContext) -> None:
        """Just before streaming starts; the context has the clock and base time."""

    def stop(self) -> None:
        """After streaming stopped (EOS, error or teardown); release streaming resources."""

    def close(self) -> None:
        """READY -> NULL: close devices."""

    def unblock(self) -> None:
        """Wake any call of this element that blocks outside the clock (teardown)."""

    def _prepare(self, context: ProduceContext) -> None:
        """Internal, before `start`: take the context and cache what the hot path reads."""
        self.context = context

    def streaming_loops(self) -> list[Callable[[], None]]:
        """Loops that need their own streaming thread (sources, queues, aggregators)."""
        return []

    # -- negotiation hooks ----------------------------------------------------------------

    def sink_caps(self, pad: Pad) -> Caps:
        """Caps this element accepts on ``pad`` (static, before negotiation)."""
        return Caps.any()

    def src_caps(self, pad: Pad) -> Caps:
        """Caps this element can give on ``pad`` (static, before negotiation)."""
        return Caps.any()

    # -- messages -------------------------------------------------------------------------

    def post_warning(self, text: str, **data: Any) -> None:
        """Post a WARNING on the pipeline bus (and log it)."""
        if self.pipeline is not None:
            self.pipeline.post_warning(self, text, **data)

    def post_message(self, text: str, **data: Any) -> None:
        """Post an ELEMENT message on the pipeline bus."""
        if self.pipeline is not None:
            self.pipeline.post_element_message(self, text, **data)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- plumbing used by the pipeline ----------------------------------------------------

    def _add_src_pad(self, name: str = "src") -> Pad:
        pad = Pad(self, name, is_src=True)
        self.src_pads.append(pad)
        return pad

    def _add_sink_pad(self, name: str = "sink") -> Pad:
        pad = Pad(self, name, is_src=False)
        self.sink_pads.append(pad)
        return pad

    def _free_sink_pad(self) -> Pad | None:
        """A sink pad to link to (aggregators make one on request)."""
        return next((pad for pad in self.sink_pads if pad.peer is None), None)

    def _receiver(self, pad: Pad) -> Callable[[Buffer], None]:
        """The function an upstream element calls to hand a buffer to ``pad``."""
        raise NotImplementedError

    def _receive_eos(self, pad: Pad) -> None:
        raise NotImplementedError

    def _accept_format(self, pad: Pad, fmt: Format) -> None:
        """Negotiation reached ``pad`` with ``fmt``; check it and pass it on."""
        accepted = self.sink_caps(pad).intersect(Caps([format_to_structure(fmt)]))
        if accepted.is_empty:
            upstream = pad.peer.element.name if pad.peer else "?"
            raise NegotiationError(
                f"{upstream} ! {self.name}: {self.name} cannot take {fmt}; it accepts "
                f"{self.sink_caps(pad)}"
            )
        pad.format = fmt


class _Pusher:
    """Mixin for elements with one src pad: ``_push`` / ``_push_eos`` go to its peer."""

    src_pad: Pad

    def _push(self, buffer: Buffer) -> None:  # rebound at negotiation
        raise ParallaxError(f"{self.src_pad.element.name}: src pad not linked")

    def _push_eos(self) -> None:
        peer = self.src_pad.peer
        if peer is not None:
            peer.element._receive_eos(peer)

    def _bind_downstream(self) -> None:
        peer = self.src_pad.peer
        if peer is not None:
            self._push = peer.element._receiver(peer)  # type: ignore[method-assign,assignment]


class Source(_Pusher, Element):
    """An element that makes buffers: `produce` is called in its own streaming thread.

    A live source (``is_live``) paces itself on the pipeline clock; its ``latency`` (ns) is how
    long after a buffer's PTS it can deliver it (an audio capture delivers a period after its
    first sample was captured), so sync sinks render at ``base_time + pts + latency``.
    """

    is_live: bool = False

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.src_pad = self._add_src_pad()
        self._end_requested = False

    @property
    def latency(self) -> int:
        """ns between a buffer's PTS and when it can be delivered (0 when not live)."""
        return 0

    def produce(self, context: ProduceContext) -> Buffer | list[Buffer] | None:
        """Return the next buffer, or None at end of stream.

        A source that has several buffers ready at once (an application that pushed ahead)
        may return them as a list, in order: they are pushed one by one, and the per-call
        cost of the streaming loop is paid once for the batch, like GStreamer's buffer
        lists. Never wait to fill a batch: that would delay the first buffer.
        """
        raise NotImplementedError

    def fixate_format(self, allowed: Caps) -> Format:
        """Choose the concrete output format among ``allowed`` (already intersected with
        `src_caps`). The default fixes the first structure, preferring `preferred_fields`;
        ANY (nothing known about the data) becomes ``application/octet-stream``.
        """
        if allowed.is_any:
            return Structure("application/octet-stream")
        structure = fixate(allowed.first(), self.preferred_fields())
        return self.format_from_structure(structure)

    def preferred_fields(self) -> dict[str, Any]:
        """Field values to prefer where downstream leaves a choice (sizes, rates)."""
        return {}

    def format_from_structure(self, structure: Structure) -> Format:
        """Turn a fixed structure into the format object the element works with."""
        return structure

    def no_format_error(self, downstream: Caps) -> ParallaxError:
        """The error to raise when nothing in `src_caps` is acceptable ``downstream``. A
        device source overrides it to say what its device supports (a `DeviceError`).
        """
        return NegotiationError(
            f"{self.name}: gives {self.src_caps(self.src_pad)}, but downstream accepts {downstream}"
        )

    def set_format(self, fmt: Format) -> None:
        """The negotiated output format (``self.src_pad.format`` holds it too)."""

    @property
    def eos_requested(self) -> bool:
        """True once `send_eos` was called: a blocking `produce` should return None soon."""
        return self._end_requested

    def send_eos(self) -> None:
        """Ask the source to end the stream after its current buffer (any thread)."""
        self._end_requested = True
        self.unblock()

    def streaming_loops(self) -> list[Callable[[], None]]:
        """A live or non-live source has exactly one streaming loop."""
        return [self._loop]

    def _loop(self) -> None:
        assert self.pipeline is not None and self.context is not None
        pipeline, context = self.pipeline, self.context
        produce, push = self.produce, self._push
        while True:
            # One plain attribute read per buffer; the Events are only for waiting.
            if not pipeline._streaming:
                if not pipeline._await_playing():
                    break  # stopping
                continue
            if self._end_requested:
                break
            try:
                buffer = produce(context)
            except ElementFailedError:
                raise
            except Exception as error:
                if pipeline.stopping:
                    return  # teardown interrupted a blocking produce
                raise ElementFailedError(self, error) from error
            if buffer is None:
                break
            if type(buffer) is list:
                for item in buffer:
                    # a pause or a stop between buffers of a batch acts as between batches:
                    # paused, the rest waits; stopping, it is flushed like all in flight
                    if not pipeline._streaming and not pipeline._await_playing():
                        return
                    push(item)
            else:
                push(buffer)  # type: ignore[arg-type]  # a Buffer: `type() is` keeps it cheap
        if not pipeline.stopping:
            self._push_eos()


class Transform(_Pusher, Element):
    """One input, one output: `process` returns a buffer, several buffers, or None.

    Transforms copy their input's metadata (`Buffer.with_data`); one that makes several
    outputs from one input interpolates times exactly (`parallax.time.split_pts`).
    """

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.sink_pad = self._add_sink_pad()
        self.src_pad = self._add_src_pad()

    def process(self, buffer: Buffer) -> Buffer | Iterable[Buffer] | None:
        """Transform one buffer. The default passes it through."""
        return buffer

    def flush(self) -> Iterable[Buffer]:
        """At end of stream: buffers still held (encoders drain here)."""
        return ()

    def transform_caps(self, downstream: Caps) -> Caps:
        """Caps acceptable on the sink pad given what downstream accepts. Passthrough by
        default: the same caps, limited to `sink_caps`.
        """
        return self.sink_caps(self.sink_pad).intersect(downstream)

    def set_format(self, fmt: Format, downstream: Caps) -> Format:
        """The negotiated input format; return the output format, one that ``downstream``
        accepts (the input format itself by default: passthrough).
        """
        return fmt

    def _receiver(self, pad: Pad) -> Callable[[Buffer], None]:
        return self._chain

    def _chain(self, buffer: Buffer) -> None:
        try:
            result = self.process(buffer)
        except Exception as error:
            raise ElementFailedError(self, error) from error
        if result is None:
            return
        if type(result) is Buffer:
            self._push(result)
        else:
            for item in result:  # type: ignore[union-attr]
                self._push(item)

    def _receive_eos(self, pad: Pad) -> None:
        try:
            remaining = list(self.flush())
        except Exception as error:
            raise ElementFailedError(self, error) from error
        for item in remaining:
            self._push(item)
        self._push_eos()


class Sink(Element):
    """The end of a chain: `render` gets each buffer.

    With ``sync`` the sink waits on the pipeline clock until ``base_time + pts + latency``
    before rendering. A buffer that arrives after that moment is *late*: it is rendered and
    counted, or dropped (with a QOS message) when it is later than ``max-lateness``.
    """

    sync = Property(bool, None, "wait on the clock until each buffer's time (default: when live)")
    max_lateness = Property(
        int, -1, "ns a buffer may be late before it is dropped (-1: never drop)", minimum=-1
    )

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.sink_pad = self._add_sink_pad()
        self.rendered = 0
        self.late = 0
        self.dropped = 0
        self.max_late_ns = 0
        self._sync = False
        self._max_lateness = -1
        self._next_late_report = -(2**63)

    def render(self, buffer: Buffer) -> None:
        """Consume one buffer."""

    def finish(self) -> None:
        """End of stream reached this sink (after the last `render`)."""

    def set_format(self, fmt: Format) -> None:
        """The negotiated input format."""

    def _receiver(self, pad: Pad) -> Callable[[Buffer], None]:
        return self._chain

    def _prepare(self, context: ProduceContext) -> None:
        super()._prepare(context)
        self._sync = context.sync_sinks if self.sync is None else self.sync
        self._max_lateness = self.max_lateness
        self._next_late_report = -(2**63)

    def _chain(self, buffer: Buffer) -> None:
        if self._sync and (pts := buffer.meta.pts) is not None:
            context = self.context
            assert context is not None
            target = pts + context.latency
            lateness = context.running_time() - target
            if lateness > 0:
                self.late += 1
                self.max_late_ns = max(self.max_late_ns, lateness)
                if 0 <= self._max_lateness < lateness:
                    self.dropped += 1
                    context.post_qos(self, pts, lateness, dropped=True)
                    return
                if pts >= self._next_late_report:
                    # rendered late: reported at most once per second of stream time
                    self._next_late_report = pts + SECOND
                    context.post_qos(self, pts, lateness, dropped=False)
            elif not context.wait_running_time(target):
                return  # stopping
        try:
            self.render(buffer)
        except Exception as error:
            raise ElementFailedError(self, error) from error
        self.rendered += 1

    def _receive_eos(self, pad: Pad) -> None:
        try:
            self.finish()
        except Exception as error:
            raise ElementFailedError(self, error) from error
        assert self.pipeline is not None
        self.pipeline._sink_reached_eos(self)

    def _accept_format(self, pad: Pad, fmt: Format) -> None:
        super()._accept_format(pad, fmt)
        self.set_format(fmt)
