"""The time model: constants, clock domains, capture times and formatting."""

from __future__ import annotations

import pytest

import parallax
from parallax.time import (
    MSECOND,
    NONE_NS,
    NSECOND,
    SECOND,
    USECOND,
    CaptureTime,
    ClockDomain,
    format_time,
)


def test_constants() -> None:
    assert (NSECOND, USECOND, MSECOND, SECOND) == (1, 1_000, 1_000_000, 1_000_000_000)
    assert NONE_NS == -(2**63)
    assert parallax.NONE_NS == NONE_NS
    assert parallax.SECOND == SECOND


def test_capture_time_carries_its_domain() -> None:
    t = CaptureTime(ClockDomain.MONOTONIC, 5 * SECOND)
    assert t.domain is ClockDomain.MONOTONIC
    assert t.ns == 5 * SECOND
    assert t == (ClockDomain.MONOTONIC, 5 * SECOND)
    assert {d.name for d in ClockDomain} == {
        "MONOTONIC",
        "MONOTONIC_RAW",
        "REALTIME",
        "TAI",
        "BOOTTIME",
        "DEVICE",
        "UNKNOWN",
    }


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (None, "none"),
        (NONE_NS, "none"),
        (0, "0:00:00.000000000"),
        (1, "0:00:00.000000001"),
        (1_033_333_333, "0:00:01.033333333"),
        (-SECOND, "-0:00:01.000000000"),
        (-1, "-0:00:00.000000001"),
        (-(3600 + 61) * SECOND - 5, "-1:01:01.000000005"),
        (59 * 60 * SECOND + 59 * SECOND + 999_999_999, "0:59:59.999999999"),
        (3600 * SECOND, "1:00:00.000000000"),
        (100 * 3600 * SECOND + 5 * 60 * SECOND, "100:05:00.000000000"),
        (2**63 - 1, "2562047:47:16.854775807"),
        (NONE_NS + 1, "-2562047:47:16.854775807"),
    ],
)
def test_format_time(ns: int | None, text: str) -> None:
    assert format_time(ns) == text


def test_split_pts_last_piece_ends_at_the_given_duration():
    from parallax.time import NONE_NS, sample_time, split_pts

    # buffer 1 of a 44.1 kHz stream stamped from absolute positions: its own duration differs
    # by 1 ns from floor(n * SECOND / rate), and the pieces must still end where buffer 2 starts
    pts, end = sample_time(1000, 44100), sample_time(2000, 44100)
    starts, durations = split_pts(pts, 1000, 300, 44100, duration=end - pts)
    assert int(starts[0]) == pts
    assert int(starts[-1]) + int(durations[-1]) == end
    assert int(durations.sum()) == end - pts
    unknown, same = split_pts(NONE_NS, 1000, 300, 44100, duration=end - pts)
    assert (unknown == NONE_NS).all() and (same == durations).all()
    with pytest.raises(ValueError, match="ends before the last piece starts"):
        split_pts(0, 1000, 300, 44100, duration=int(starts[-1]) - pts)
