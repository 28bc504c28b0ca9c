"""The time model: integer nanoseconds, clock domains, and exact timestamp kernels.

Every time in Parallax is an ``int`` of nanoseconds. Unknown is ``None`` on Python objects
and `NONE_NS` (``INT64_MIN``) in numpy arrays and Cython kernels. Floats never touch a
timestamp: scaling between units (samples, 90 kHz ticks, frame intervals) goes through
`scale`, which is exact for every signed 64-bit input.

The array kernels take C-contiguous ``int64`` arrays and refuse anything else rather than
copying or casting behind the caller's back; they run without the GIL.
"""

from __future__ import annotations

import enum
import math
from typing import NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from parallax._ext import pts as _pts

ClockTime: TypeAlias = int
"""Nanoseconds (documentation alias for ``int``)."""

Int64Array: TypeAlias = npt.NDArray[np.int64]

NSECOND = 1
USECOND = 1_000
MSECOND = 1_000_000
SECOND = 1_000_000_000

NONE_NS: int = _pts.NONE_NS
"""Sentinel for an unknown time in int64 arrays and kernels (``INT64_MIN``)."""

INT64_MAX = 2**63 - 1


class ClockDomain(enum.Enum):
    """Which clock a raw hardware timestamp was read from."""

    MONOTONIC = "monotonic"
    """``CLOCK_MONOTONIC``: V4L2 (``TIMESTAMP_MONOTONIC``), PipeWire, ALSA monotonic tstamps."""
    MONOTONIC_RAW = "monotonic_raw"
    """``CLOCK_MONOTONIC_RAW``: the crystal without NTP slewing."""
    REALTIME = "realtime"
    """``CLOCK_REALTIME``: wall time since 1970; can jump."""
    TAI = "tai"
    """``CLOCK_TAI``: wall time without leap seconds."""
    BOOTTIME = "boottime"
    """``CLOCK_BOOTTIME``: monotonic, counting suspend."""
    DEVICE = "device"
    """A device counter (an ALSA sample position converted to ns); needs a calibration."""
    UNKNOWN = "unknown"
    """The driver did not say (V4L2 ``TIMESTAMP_UNKNOWN``)."""


class CaptureTime(NamedTuple):
    """A raw timestamp as the hardware or driver gave it, with its clock domain.

    Attributes
    ----------
    domain : ClockDomain
        The clock the timestamp was read from.
    ns : int
        Nanoseconds in that clock's own time (origin: that clock's epoch).
    """

    domain: ClockDomain
    ns: int


def format_time(ns: int | None) -> str:
    """Format nanoseconds as ``H:MM:SS.nnnnnnnnn`` (``"none"`` for unknown).

    Parameters
    ----------
    ns : int or None
        A time or duration in nanoseconds; ``None`` or `NONE_NS` mean unknown.

    Examples
    --------
    >>> format_time(1_033_333_333)
    '0:00:01.033333333'
    >>> format_time(-SECOND)
    '-0:00:01.000000000'
    """
    if ns is None or ns == NONE_NS:
        return "none"
    sign = "-" if ns < 0 else ""
    seconds, fraction = divmod(abs(ns), SECOND)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{sign}{hours}:{minute:02d}:{second:02d}.{fraction:09d}"


scale = _pts.scale
"""scale(value, num, denom) -> int

Return ``floor(value * num / denom)`` exactly for any int64 ``value``, ``num``, ``denom``
(128-bit intermediate). Plain arithmetic: no `NONE_NS` handling. Raises ``TypeError`` for
anything but an int (``bool`` included; numpy integers are fine), ``ValueError`` for
``denom == 0`` and ``OverflowError`` naming the argument when an input or the result leaves
int64.

Examples
--------
>>> scale(1, SECOND, 30)            # one frame at 30 fps, in ns
33333333
>>> scale(2**40, SECOND, 44100)     # sample 2^40 at 44.1 kHz, in ns
24932236457505668
"""

sample_time = _pts.sample_time
"""sample_time(position, rate, base_ns=0) -> int

Nanoseconds of sample ``position`` at ``rate`` Hz after ``base_ns``:
``base_ns + floor(position * SECOND / rate)``, exact. The per-buffer scalar form of
`sample_pts`, and like it: `NONE_NS` as ``position`` or ``base_ns`` gives `NONE_NS`, and a
result outside ``(INT64_MIN, INT64_MAX]`` raises ``OverflowError`` (``INT64_MIN`` would read
as unknown). ``rate <= 0`` raises ``ValueError``; a non-int argument ``TypeError``.
"""


def _int64_array(array: object, name: str) -> Int64Array:
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{name} must be a numpy int64 array, not {type(array).__name__}")
    if array.dtype != np.int64:
        raise ValueError(f"{name} must have dtype int64, not {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, not {array.ndim}-dimensional")
    if not array.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (use numpy.ascontiguousarray)")
    return array


def _int64(value: object, name: str, *, minimum: int = -(2**63)) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    value = int(value)
    if value > INT64_MAX or value < -(2**63):
        raise OverflowError(f"{name}={value} does not fit a signed 64-bit integer")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _overflow(function: str, name: str, array: Int64Array, index: int) -> OverflowError:
    return OverflowError(
        f"{function}: the result for {name}[{index}]={int(array[index])} does not fit int64 "
        "nanoseconds"
    )


def scale_array(values: Int64Array, num: int, denom: int) -> Int64Array:
    """Scale every element exactly: ``floor(values * num / denom)``.

    Parameters
    ----------
    values : ndarray of int64, C-contiguous
        Values to scale; `NONE_NS` entries stay `NONE_NS`.
    num, denom : int
        The ratio; ``denom`` must not be 0.

    Returns
    -------
    ndarray of int64
        A new array.

    Raises
    ------
    ValueError
        ``denom == 0``, or ``values`` is not a C-contiguous 1-D int64 array.
    OverflowError
        A result does not fit int64 (the message names the element).
    """
    values = _int64_array(values, "values")
    num = _int64(num, "num")
    denom = _int64(denom, "denom")
    if denom == 0:
        raise ValueError("denom must not be 0")
    # The same ratio in lowest terms with a positive denominator keeps more ratios on the
    # kernel's fast path (num * denom < 2**64); -2**63 cannot be negated and stays as it is.
    divisor = math.gcd(num, denom)
    num, denom = num // divisor, denom // divisor
    if denom < 0 and num != -(2**63) and denom != -(2**63):
        num, denom = -num, -denom
    out, failed = _pts.scale_add_array(values, num, denom, 0)
    if failed >= 0:
        raise _overflow("scale_array", "values", values, failed)
    return out


def sample_pts(positions: Int64Array, rate: int, base_ns: int = 0) -> Int64Array:
    """PTS of sample positions: ``base_ns + floor(positions * SECOND / rate)``, exact.

    Parameters
    ----------
    positions : ndarray of int64, C-contiguous
        Sample positions (frames since the stream's first sample); any int64 value,
        `NONE_NS` entries stay `NONE_NS`.
    rate : int
        Samples per second, > 0 (44100, 47999, 384000, ...).
    base_ns : int
        Time of position 0 in ns (running time or any clock's time; may be negative);
        `NONE_NS` makes every result `NONE_NS`.

    Returns
    -------
    ndarray of int64
        ns in the same clock and origin as ``base_ns``.

    Raises
    ------
    ValueError
        ``rate <= 0`` or a bad array.
    OverflowError
        A result does not fit int64 (the message names the element).
    """
    positions = _int64_array(positions, "positions")
    rate = _int64(rate, "rate")
    if rate <= 0:
        raise ValueError(f"rate must be > 0 samples per second, got {rate}")
    base_ns = _int64(base_ns, "base_ns")
    if base_ns == NONE_NS:  # unknown origin: every PTS is unknown
        return np.full(len(positions), NONE_NS, dtype=np.int64)
    divisor = math.gcd(SECOND, rate)
    num, denom = SECOND // divisor, rate // divisor
    out, failed = _pts.scale_add_array(positions, num, denom, base_ns)
    if failed >= 0:
        raise _overflow("sample_pts", "positions", positions, failed)
    return out


def interpolate_durations(pts: Int64Array, nominal: int) -> Int64Array:
    """Durations from consecutive PTS: ``pts[i + 1] - pts[i]``, else ``nominal``.

    The last buffer, buffers next to an unknown PTS (`NONE_NS`) and buffers followed by a
    PTS that does not increase get ``nominal``.

    Parameters
    ----------
    pts : ndarray of int64, C-contiguous
        Presentation times in ns (any single clock domain).
    nominal : int
        Duration in ns where none can be measured (frame interval, samples / rate), >= 0.

    Returns
    -------
    ndarray of int64
        Durations in ns, same length as ``pts``.
    """
    pts = _int64_array(pts, "pts")
    nominal = _int64(nominal, "nominal", minimum=0)
    out, failed = _pts.interpolate_durations(pts, nominal)
    if failed >= 0:
        raise _overflow("interpolate_durations", "pts", pts, failed)
    return out


def fill_missing_pts(pts: Int64Array, nominal: int) -> Int64Array:
    """Fill unknown PTS (`NONE_NS`) from the nearest known one, ``nominal`` ns per step.

    An unknown PTS ``k`` places after the last known one becomes ``known + k * nominal``;
    unknown PTS before the first known one count back from it.

    Parameters
    ----------
    pts : ndarray of int64, C-contiguous
        Presentation times in ns with `NONE_NS` for unknown.
    nominal : int
        Step between buffers in ns, > 0.

    Returns
    -------
    ndarray of int64
        A new array without `NONE_NS`.

    Raises
    ------
    ValueError
        ``pts`` is not empty but has no known entry, or ``nominal <= 0``.
    """
    pts = _int64_array(pts, "pts")
    nominal = _int64(nominal, "nominal", minimum=1)
    out, failed = _pts.fill_missing_pts(pts, nominal)
    if failed == len(pts):
        raise ValueError("pts has no known entry to fill from (all are NONE_NS)")
    if failed >= 0:
        raise _overflow("fill_missing_pts", "pts", pts, failed)
    return out


def split_pts(
    pts: int, n_samples: int, chunk: int, rate: int, duration: int | None = None
) -> tuple[Int64Array, Int64Array]:
    """Exact PTS and durations of ``chunk``-sample pieces of one buffer of ``n_samples``.

    Piece ``k`` starts at sample ``k * chunk``; its PTS is ``pts + floor(k * chunk * SECOND /
    rate)`` and its duration runs to the next piece (the last one to the buffer's end), so
    the durations add up exactly to the buffer's duration: no rounding drift, and the last
    piece still ends where the next buffer starts.

    Parameters
    ----------
    pts : int
        PTS of the buffer's first sample, ns (running time); `NONE_NS` gives `NONE_NS`
        starts with the same exact durations.
    n_samples : int
        Samples in the buffer, >= 0.
    chunk : int
        Samples per piece, >= 1 (the last piece may be shorter).
    rate : int
        Samples per second, > 0.
    duration : int or None
        The buffer's duration, ns (``next_pts - pts`` when buffers are stamped from absolute
        sample positions, which may differ by 1 ns from the buffer's own length); default
        ``floor(n_samples * SECOND / rate)``.

    Returns
    -------
    starts, durations : ndarray of int64
        One entry per piece, ns.

    Raises
    ------
    ValueError
        ``n_samples < 0``, ``chunk < 1``, ``rate < 1``, a piece shorter than 1 ns (then
        the starts could not strictly increase), or ``duration`` ends before the last piece
        starts.
    OverflowError
        The buffer's end or a piece's duration does not fit int64.
    """
    pts = _int64(pts, "pts")
    n_samples = _int64(n_samples, "n_samples", minimum=0)
    chunk = _int64(chunk, "chunk", minimum=1)
    rate = _int64(rate, "rate", minimum=1)
    if chunk * SECOND < rate:
        raise ValueError(f"chunk={chunk} samples at rate={rate} is shorter than 1 ns")
    unknown = pts == NONE_NS
    starts, durations, failed = _pts.split_pts(0 if unknown else pts, n_samples, chunk, rate)
    if starts is None or durations is None or failed >= 0:
        raise OverflowError(
            f"split_pts: pts={pts} plus {n_samples} samples at {rate} Hz in pieces of {chunk} "
            "does not fit int64 nanoseconds"
        )
    if duration is not None and len(starts):
        duration = _int64(duration, "duration", minimum=0)
        last_start = int(starts[-1]) - (0 if unknown else pts)
        if duration <= last_start:
            raise ValueError(
                f"duration={duration} ns ends before the last piece starts at {last_start} ns"
            )
        durations[-1] = duration - last_start
    if unknown:
        starts.fill(NONE_NS)
    return starts, durations
