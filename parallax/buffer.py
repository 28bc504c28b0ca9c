"""Buffers: a payload (numpy array or bytes) and its timing metadata.

Every time on a `Metadata` is an ``int`` of nanoseconds of pipeline **running time** (clock
time minus the pipeline's base time), or ``None`` when unknown; ``capture`` keeps the raw
hardware timestamp with its clock domain. Transforms copy the metadata of their input
(`Metadata.copy` is a plain slot copy, about as cheap as Python allows).
"""

from __future__ import annotations

import enum
from typing import Any, Generic, TypeAlias, TypeVar, overload

import numpy as np

from parallax.time import CaptureTime, format_time

T = TypeVar("T")

Payload: TypeAlias = "np.ndarray[Any, Any] | bytes"


class BufferFlags(enum.IntFlag):
    """What is special about a buffer (GStreamer's meanings)."""

    NONE = 0
    DISCONT = 1 << 0
    """Data or time is not continuous with the previous buffer (drop, xrun, seek)."""
    GAP = 1 << 1
    """The buffer stands for a gap: silence or a repeated frame, not captured content."""
    DELTA_UNIT = 1 << 2
    """Cannot be decoded on its own (an encoded non-keyframe)."""
    HEADER = 1 << 3
    """Codec or stream header, not media."""
    CORRUPTED = 1 << 4
    """The payload is known to be damaged (the driver said so)."""
    RESYNC = 1 << 5
    """The timestamp was not from the device: it was repaired or re-anchored."""


class Metadata:
    """Timing metadata of one buffer.

    Attributes
    ----------
    pts : int or None
        Presentation time, ns, pipeline running time.
    dts : int or None
        Decode time, ns, pipeline running time (set by encoders with reordering).
    duration : int or None
        ns.
    offset, offset_end : int or None
        Media position of the first and one past the last unit (sample or frame number).
    sequence : int or None
        The device's own sequence number (V4L2 ``sequence``, PipeWire ``seq``).
    flags : BufferFlags
        See `BufferFlags`.
    capture : CaptureTime or None
        The raw hardware timestamp in its own clock domain, kept as the device gave it.
    """

    __slots__ = ("capture", "dts", "duration", "flags", "offset", "offset_end", "pts", "sequence")

    def __init__(
        self,
        pts: int | None = None,
        dts: int | None = None,
        duration: int | None = None,
        offset: int | None = None,
        offset_end: int | None = None,
        sequence: int | None = None,
        flags: BufferFlags = BufferFlags.NONE,
        capture: CaptureTime | None = None,
    ) -> None:
        self.pts = pts
        self.dts = dts
        self.duration = duration
        self.offset = offset
        self.offset_end = offset_end
        self.sequence = sequence
        self.flags = flags
        self.capture = capture

    @property
    def effective_dts(self) -> int | None:
        """The DTS if set, else the PTS (ns, running time): the order muxers interleave by."""
        return self.pts if self.dts is None else self.dts

    def copy(self) -> Metadata:
        """Return an independent copy (metadata is small; the payload is not copied)."""
        new = Metadata.__new__(Metadata)
        new.pts = self.pts
        new.dts = self.dts
        new.duration = self.duration
        new.offset = self.offset
        new.offset_end = self.offset_end
        new.sequence = self.sequence
        new.flags = self.flags
        new.capture = self.capture
        return new

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Metadata):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        parts = [f"pts={format_time(self.pts)}"]
        if self.dts is not None:
            parts.append(f"dts={format_time(self.dts)}")
        parts.append(f"duration={format_time(self.duration)}")
        for name in ("offset", "offset_end", "sequence", "capture"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value}")
        if self.flags:
            parts.append(f"flags={self.flags!r}")
        return f"Metadata({', '.join(parts)})"


class _MetaField(Generic[T]):
    """A `Buffer` attribute that reads and writes the same-named field of ``buffer.meta``."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, buffer: None, owner: type) -> _MetaField[T]: ...
    @overload
    def __get__(self, buffer: Buffer, owner: type) -> T: ...
    def __get__(self, buffer: Buffer | None, owner: type) -> T | _MetaField[T]:
        if buffer is None:
            return self
        value: T = getattr(buffer.meta, self.name)
        return value

    def __set__(self, buffer: Buffer, value: T) -> None:
        setattr(buffer.meta, self.name, value)


class Buffer:
    """A payload and its `Metadata`.

    Parameters
    ----------
    data : ndarray or bytes
        Video: (height, width, channels) or planar; audio: (frames, channels); encoded: bytes.
    meta : Metadata, optional
        Timing; a fresh empty one if omitted.

    Notes
    -----
    ``buffer.pts``, ``dts``, ``duration``, ``offset``, ``offset_end``, ``sequence``, ``flags``
    and ``capture`` read and write through to ``buffer.meta``.
    """

    __slots__ = ("data", "meta")

    def __init__(self, data: Payload, meta: Metadata | None = None) -> None:
        self.data = data
        self.meta = Metadata() if meta is None else meta

    def with_data(self, data: Payload) -> Buffer:
        """Return a new buffer carrying ``data`` and a copy of this buffer's metadata."""
        return Buffer(data, self.meta.copy())

    pts: _MetaField[int | None] = _MetaField("Presentation time, ns, running time.")
    dts: _MetaField[int | None] = _MetaField("Decode time, ns, running time.")
    duration: _MetaField[int | None] = _MetaField("Duration, ns.")
    offset: _MetaField[int | None] = _MetaField("Media position of the first unit.")
    offset_end: _MetaField[int | None] = _MetaField("Media position one past the last unit.")
    sequence: _MetaField[int | None] = _MetaField("The device's sequence number.")
    flags: _MetaField[BufferFlags] = _MetaField("See `BufferFlags`.")
    capture: _MetaField[CaptureTime | None] = _MetaField("The raw hardware timestamp.")

    @property
    def size(self) -> int:
        """Payload size in bytes."""
        return self.data.nbytes if isinstance(self.data, np.ndarray) else len(self.data)

    def __repr__(self) -> str:
        shape = self.data.shape if isinstance(self.data, np.ndarray) else f"{len(self.data)} bytes"
        return f"Buffer({shape}, {self.meta!r})"
