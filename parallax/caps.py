"""Formats (caps): what travels on a link, and how two elements agree on one.

A `Caps` is a list of `Structure`s, each a media type (``video/x-raw``) with fields whose
values are fixed (``640``), a tuple of choices (``("RGB", "BGR")``) or absent (anything).
Elements declare the caps they can take and give; before PLAYING the pipeline intersects
them along each chain and the source fixes one concrete format (`VideoFormat`,
`AudioFormat`, or an encoded `Structure`).

The string form is gst-launch's: ``video/x-raw,width=640,height=480,framerate=30/1``;
choices are written ``format={RGB,BGR}``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from fractions import Fraction
from typing import Any, TypeAlias

from parallax.errors import NegotiationError
from parallax.time import SECOND, scale

FieldValue: TypeAlias = "int | str | Fraction | tuple[int | str | Fraction, ...]"

VIDEO_RAW = "video/x-raw"
AUDIO_RAW = "audio/x-raw"

# Pixel formats: name -> bytes per pixel of a packed plane (planar formats: None). GStreamer's
# names, so caps strings read the same as in gst-launch.
PIXEL_FORMATS: dict[str, int | None] = {
    "RGB": 3,
    "BGR": 3,
    "RGBx": 4,
    "BGRx": 4,
    "GRAY8": 1,
    "YUY2": 2,
    "UYVY": 2,
    "NV12": None,
    "I420": None,
}

# Sample formats: name -> numpy dtype string.
SAMPLE_FORMATS: dict[str, str] = {"S16LE": "<i2", "S32LE": "<i4", "F32LE": "<f4"}


class Structure:
    """One media type and its field constraints (immutable).

    Parameters
    ----------
    media : str
        ``video/x-raw``, ``audio/x-raw``, ``video/x-h264``, ...
    fields : mapping
        Field name -> fixed value or tuple of choices. Absent fields accept anything.
    """

    __slots__ = ("fields", "media")

    def __init__(self, media: str, fields: Mapping[str, FieldValue] | None = None) -> None:
        self.media = media
        self.fields: dict[str, FieldValue] = dict(fields or {})

    def intersect(self, other: Structure) -> Structure | None:
        """Return the structure both accept, or None."""
        if self.media != other.media:
            return None
        fields = dict(self.fields)
        for name, value in other.fields.items():
            if name not in fields:
                fields[name] = value
                continue
            common = _intersect_values(fields[name], value)
            if common is None:
                return None
            fields[name] = common
        return Structure(self.media, fields)

    def is_fixed(self) -> bool:
        """True when no field is a choice."""
        return not any(isinstance(value, tuple) for value in self.fields.values())

    def get(self, name: str, default: Any = None) -> Any:
        """Return a field's value (a fixed value or a tuple of choices) or ``default``."""
        return self.fields.get(name, default)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Structure):
            return NotImplemented
        return self.media == other.media and self.fields == other.fields

    def __hash__(self) -> int:
        return hash((self.media, tuple(sorted(self.fields.items()))))

    def __str__(self) -> str:
        parts = [self.media]
        for name, value in self.fields.items():
            if isinstance(value, tuple):
                parts.append(f"{name}={{{','.join(str(v) for v in value)}}}")
            else:
                parts.append(f"{name}={value}")
        return ",".join(parts)

    def __repr__(self) -> str:
        return f"Structure({str(self)!r})"


def _intersect_values(a: FieldValue, b: FieldValue) -> FieldValue | None:
    choices_a = a if isinstance(a, tuple) else (a,)
    choices_b = b if isinstance(b, tuple) else (b,)
    common = tuple(value for value in choices_a if value in choices_b)
    if not common:
        return None
    return common[0] if len(common) == 1 else common


class Caps:
    """A set of acceptable formats: a tuple of `Structure`s, or ANY.

    Parameters
    ----------
    structures : iterable of Structure, or None
        None means ANY (accepts everything).
    """

    __slots__ = ("structures",)

    def __init__(self, structures: Iterable[Structure] | None = ()) -> None:
        self.structures: tuple[Structure, ...] | None = (
            None if structures is None else tuple(structures)
        )

    @classmethod
    def any(cls) -> Caps:
        """Caps that accept everything."""
        return cls(None)

    @classmethod
    def of(cls, media: str, **fields: FieldValue) -> Caps:
        """Caps of one structure: ``Caps.of("video/x-raw", format=("RGB", "BGR"))``."""
        return cls([Structure(media, fields)])

    @classmethod
    def parse(cls, text: str) -> Caps:
        """Parse gst-launch caps: ``video/x-raw,width=640;audio/x-raw`` (``;`` separates).

        Raises
        ------
        ValueError
            The text is not a caps string; the message gives the position.
        """
        if text.strip().upper() == "ANY":
            return cls.any()
        return cls(parse_structure(part) for part in text.split(";") if part.strip())

    @property
    def is_any(self) -> bool:
        """True for ANY caps."""
        return self.structures is None

    @property
    def is_empty(self) -> bool:
        """True when nothing is acceptable."""
        return self.structures is not None and not self.structures

    def intersect(self, other: Caps) -> Caps:
        """Return the caps both accept (order of preference: this one's)."""
        if self.structures is None:
            return other
        if other.structures is None:
            return self
        found = []
        for mine in self.structures:
            for theirs in other.structures:
                common = mine.intersect(theirs)
                if common is not None and common not in found:
                    found.append(common)
        return Caps(found)

    def first(self) -> Structure:
        """Return the preferred structure (raises `NegotiationError` for empty or ANY)."""
        if not self.structures:
            raise NegotiationError(f"no format to choose from in {self}")
        return self.structures[0]

    def __iter__(self) -> Iterator[Structure]:
        return iter(self.structures or ())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Caps):
            return NotImplemented
        return self.structures == other.structures

    def __hash__(self) -> int:
        return hash(self.structures)

    def __str__(self) -> str:
        if self.structures is None:
            return "ANY"
        if not self.structures:
            return "EMPTY"
        return "; ".join(str(s) for s in self.structures)

    def __repr__(self) -> str:
        return f"Caps({str(self)!r})"


_FIELD = re.compile(r"\s*([A-Za-z][\w-]*)\s*=\s*(?:\(\w+\))?\s*(\{[^}]*\}|[^,]*)\s*")


def parse_structure(text: str) -> Structure:
    """Parse one gst-launch structure: ``video/x-raw,width=640,framerate=30/1``.

    Raises
    ------
    ValueError
        With the position of the first character that does not fit.
    """
    media, _, rest = text.strip().partition(",")
    media = media.strip()
    if not re.fullmatch(r"[a-z]+/[\w.+-]+", media):
        raise ValueError(f"bad media type {media!r} in caps {text!r} (expected like video/x-raw)")
    fields: dict[str, FieldValue] = {}
    position = 0
    while position < len(rest):
        match = _FIELD.match(rest, position)
        if match is None or not match.group(2).strip():
            column = len(text) - len(rest) + position
            raise ValueError(
                f"bad caps field at position {column} of {text!r}: expected name=value"
            )
        name, raw = match.group(1), match.group(2).strip()
        if raw.startswith("{"):
            fields[name] = tuple(_parse_value(v.strip()) for v in raw[1:-1].split(",") if v.strip())
        else:
            fields[name] = _parse_value(raw)
        position = match.end()
        if position < len(rest):
            if rest[position] != ",":
                column = len(text) - len(rest) + position
                raise ValueError(f"expected ',' at position {column} of caps {text!r}")
            position += 1
    return Structure(media, fields)


def _parse_value(raw: str) -> int | str | Fraction:
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if re.fullmatch(r"\d+/\d+", raw):
        numerator, denominator = raw.split("/")
        if int(denominator) == 0:
            raise ValueError(f"fraction {raw!r} has a zero denominator")
        return Fraction(int(numerator), int(denominator))
    return raw.strip("\"'")


@dataclasses.dataclass(frozen=True)
class VideoFormat:
    """A fixed raw video format.

    Attributes
    ----------
    width, height : int
        Pixels.
    pixel_format : str
        One of `PIXEL_FORMATS` (GStreamer names: RGB, BGRx, YUY2, NV12, I420, ...).
    fps : Fraction
        Frames per second; 0 means variable (screen capture).
    """

    width: int
    height: int
    pixel_format: str = "RGB"
    fps: Fraction = Fraction(30)

    @property
    def frame_duration(self) -> int | None:
        """Nominal ns per frame (floor of 1e9 / fps), None for variable rate."""
        if self.fps == 0:
            return None
        return scale(SECOND, self.fps.denominator, self.fps.numerator)

    def frame_pts(self, n: int) -> int:
        """PTS offset of frame ``n`` from the first frame, ns: floor(n * 1e9 / fps), exact."""
        return scale(n * self.fps.denominator, SECOND, self.fps.numerator)

    def to_structure(self) -> Structure:
        """The fixed caps structure of this format."""
        return Structure(
            VIDEO_RAW,
            {
                "format": self.pixel_format,
                "width": self.width,
                "height": self.height,
                "framerate": self.fps,
            },
        )

    @classmethod
    def from_structure(cls, structure: Structure) -> VideoFormat:
        """Build from a fixed ``video/x-raw`` structure."""
        _require_fixed(structure, VIDEO_RAW, ("width", "height", "format"))
        return cls(
            width=int(structure.get("width")),
            height=int(structure.get("height")),
            pixel_format=str(structure.get("format")),
            fps=Fraction(structure.get("framerate", Fraction(0))),
        )

    def __str__(self) -> str:
        return str(self.to_structure())


@dataclasses.dataclass(frozen=True)
class AudioFormat:
    """A fixed raw audio format (interleaved).

    Attributes
    ----------
    rate : int
        Samples per second per channel.
    channels : int
    sample_format : str
        One of `SAMPLE_FORMATS`: S16LE, S32LE, F32LE.
    """

    rate: int = 48000
    channels: int = 2
    sample_format: str = "S16LE"

    @property
    def dtype(self) -> str:
        """The numpy dtype of one sample."""
        return SAMPLE_FORMATS[self.sample_format]

    def to_structure(self) -> Structure:
        """The fixed caps structure of this format."""
        return Structure(
            AUDIO_RAW,
            {"format": self.sample_format, "rate": self.rate, "channels": self.channels},
        )

    @classmethod
    def from_structure(cls, structure: Structure) -> AudioFormat:
        """Build from a fixed ``audio/x-raw`` structure."""
        _require_fixed(structure, AUDIO_RAW, ("rate", "channels", "format"))
        return cls(
            rate=int(structure.get("rate")),
            channels=int(structure.get("channels")),
            sample_format=str(structure.get("format")),
        )

    def __str__(self) -> str:
        return str(self.to_structure())


def _require_fixed(structure: Structure, media: str, fields: tuple[str, ...]) -> None:
    missing = [name for name in fields if name not in structure.fields]
    if structure.media != media or missing or not structure.is_fixed():
        why = f"missing {', '.join(missing)}" if missing else "not fixed"
        raise NegotiationError(f"not a complete {media} format ({why}): {structure}")


Format: TypeAlias = "VideoFormat | AudioFormat | Structure"
"""A fixed format on a link: raw video, raw audio, or an encoded structure."""


def format_to_structure(fmt: Format) -> Structure:
    """The fixed structure of any format."""
    return fmt if isinstance(fmt, Structure) else fmt.to_structure()


def fixate(structure: Structure, preferred: Mapping[str, FieldValue]) -> Structure:
    """Fix every field: take the preferred value where allowed, else the first choice.

    Raises
    ------
    NegotiationError
        A field has choices and no preference.
    """
    fields: dict[str, FieldValue] = {}
    for name in {**preferred, **structure.fields}:
        allowed = structure.fields.get(name)
        want = preferred.get(name)
        if allowed is None:
            fields[name] = want  # type: ignore[assignment]
        elif want is not None and want in (allowed if isinstance(allowed, tuple) else (allowed,)):
            fields[name] = want
        else:
            fields[name] = allowed[0] if isinstance(allowed, tuple) else allowed
    return Structure(structure.media, fields)
