"""FrameTimestamps on timing recorded from the real vivid driver (data/record_vivid.py), and on
those recordings with bogus timestamps put in."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parallax.buffer import BufferFlags
from parallax.elements.device.v4l2timestamps import (
    BUF_FLAG_ERROR,
    TIMESTAMP_COPY,
    TIMESTAMP_MASK,
    TIMESTAMP_MONOTONIC,
    TIMESTAMP_UNKNOWN,
    FrameTimestamps,
    FrameTiming,
    TimestampPolicy,
    TimestampSource,
)
from parallax.errors import TimestampError
from parallax.time import SECOND, ClockDomain

RECORDINGS = json.loads((Path(__file__).parent / "data" / "vivid_timing.json").read_text())
FRAME = SECOND // 30  # the recordings are 30 fps: floor(1e9 / 30)
DEVICE = "/dev/video0"

Row = list[int]  # flags, sequence, timestamp ns, dequeued ns


def run(rows: list[Row], policy: TimestampPolicy = TimestampPolicy.REPAIR) -> tuple[
    FrameTimestamps, list[FrameTiming]
]:  # fmt: skip
    stamper = FrameTimestamps(DEVICE, policy, FRAME)
    return stamper, [stamper.stamp(*row) for row in rows]


def sequence_steps(rows: list[Row]) -> list[int]:
    """Reference: the step of each frame's sequence from the previous one (mod 2**32)."""
    return [(b[1] - a[1]) % 2**32 for a, b in itertools.pairwise(rows)]


def recording(name: str) -> list[Row]:
    return [list(row) for row in RECORDINGS[name]]


# -- the recordings as they came ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["vivid_640x360_30fps_eof", "vivid_640x360_30fps_soe"])
def test_good_monotonic_timestamps_are_used_exactly(name: str) -> None:
    rows = recording(name)
    for policy in TimestampPolicy:
        stamper, timings = run(rows, policy)
        for row, timing in zip(rows, timings, strict=True):
            assert timing.capture == (ClockDomain.MONOTONIC, row[2])
            assert timing.time == (ClockDomain.MONOTONIC, row[2])
            assert not timing.flags & BufferFlags.RESYNC
        assert not {"zero", "backwards", "far-future"} & set(stamper.problems)


def test_timestamp_source_is_read_from_the_flags() -> None:
    stamper, _ = run(recording("vivid_640x360_30fps_eof"))
    assert stamper.source is TimestampSource.END_OF_FRAME
    assert stamper.domain is ClockDomain.MONOTONIC
    stamper, _ = run(recording("vivid_640x360_30fps_soe"))
    assert stamper.source is TimestampSource.START_OF_EXPOSURE
    assert stamper.domain is ClockDomain.MONOTONIC


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_sequence_gaps_are_counted_and_flagged(name: str) -> None:
    rows = recording(name)
    stamper, timings = run(rows, TimestampPolicy.DRIVER)
    steps = sequence_steps(rows)
    gaps = [step - 1 if 0 < step < 2**31 else 0 for step in steps]
    assert stamper.dropped_frames == sum(gaps)
    assert [t.dropped for t in timings] == [0, *gaps]
    discont = [bool(t.flags & BufferFlags.DISCONT) for t in timings]
    assert discont == [False, *(gap > 0 for gap in gaps)]
    # positions count every frame, dropped ones included, across the 2**32 wrap
    positions = [t.position for t in timings]
    assert positions[0] == 0
    assert [b - a for a, b in itertools.pairwise(positions)] == [max(step, 1) for step in steps]
    gap_warnings = [w for t in timings for w in t.warnings if "dropped" in w]
    assert len(gap_warnings) == (1 if sum(gaps) else 0)


def test_drop_recording_has_real_gaps() -> None:
    # the recording made vivid drop 20% of its buffers: the test above must see gaps in it
    stamper, timings = run(recording("vivid_640x360_30fps_drops"))
    assert stamper.dropped_frames > 0
    assert any(t.flags & BufferFlags.DISCONT for t in timings)


def test_sequence_wrap_is_not_a_restart() -> None:
    rows = recording("vivid_640x360_30fps_seqwrap")
    assert rows[0][1] > 2**32 - 200 and rows[-1][1] < 200  # it did wrap
    stamper, timings = run(rows)
    assert "sequence-restart" not in stamper.problems
    # every step forward across the wrap (vivid also repeats a number now and then: +1 each)
    repeats = sequence_steps(rows).count(0)
    assert timings[-1].position == (rows[-1][1] - rows[0][1]) % 2**32 + repeats
    assert stamper.dropped_frames == sum(s - 1 for s in sequence_steps(rows) if s > 1)


def test_repeated_sequence_warns_once_without_discont() -> None:
    rows = recording("vivid_640x360_30fps_eof")
    rows[6][1] = rows[5][1]
    rows[12][1] = rows[11][1]
    stamper, timings = run(rows)
    assert stamper.problems["sequence-repeat"] >= 2
    assert not timings[6].flags & BufferFlags.DISCONT
    assert sum("two frames in a row" in w for t in timings for w in t.warnings) == 1


def test_sequence_going_back_is_a_discont() -> None:
    rows = recording("vivid_640x360_30fps_eof")
    for row in rows[20:]:
        row[1] -= 15
    stamper, timings = run(rows)
    assert timings[20].flags & BufferFlags.DISCONT
    assert stamper.problems["sequence-restart"] == 1
    assert timings[20].dropped == 0
    assert timings[20].position == timings[19].position + 1


# -- far future: vivid's wrap_timestamp control ---------------------------------------------------


def test_far_future_under_driver_policy_is_kept_and_warned_once() -> None:
    rows = recording("vivid_640x360_30fps_timewrap")
    stamper, timings = run(rows, TimestampPolicy.DRIVER)
    assert [t.time.ns for t in timings] == [row[2] for row in rows]
    assert stamper.problems["far-future"] == len(rows)
    warnings = [w for t in timings for w in t.warnings if "after the frame was dequeued" in w]
    assert len(warnings) == 1 and DEVICE in warnings[0] and "timestamp-policy=driver" in warnings[0]
    assert not any(t.flags & BufferFlags.RESYNC for t in timings)


def test_far_future_under_repair_policy_uses_the_dequeue_time() -> None:
    rows = recording("vivid_640x360_30fps_timewrap")
    stamper, timings = run(rows, TimestampPolicy.REPAIR)
    times = [t.time.ns for t in timings]
    assert all(b > a for a, b in itertools.pairwise(times))
    for row, timing in zip(rows, timings, strict=True):
        assert timing.flags & BufferFlags.RESYNC
        assert row[3] <= timing.time.ns  # never before the frame was seen...
        assert timing.capture == (ClockDomain.MONOTONIC, row[2])  # ...the raw one is kept
    assert times[0] == rows[0][3]
    assert stamper.summary() is not None and "far-future" in stamper.summary()  # type: ignore[operator]


def test_far_future_under_strict_policy_raises() -> None:
    rows = recording("vivid_640x360_30fps_timewrap")
    stamper = FrameTimestamps(DEVICE, TimestampPolicy.STRICT, FRAME)
    with pytest.raises(TimestampError, match=rf"{DEVICE}: frame {rows[0][1]}: .*strict"):
        stamper.stamp(*rows[0])


def test_future_tolerance_accepts_vivids_end_of_frame_lead() -> None:
    # vivid's end-of-frame stamps lie up to ~0.9 frame after the dequeue time: not bogus
    rows = recording("vivid_640x360_30fps_eof")
    assert max(row[2] - row[3] for row in rows) > 0
    stamper, _ = run(rows, TimestampPolicy.STRICT)
    assert "far-future" not in stamper.problems


# -- zero and backwards, put into a recording ------------------------------------------------------


def test_zero_timestamp_under_each_policy() -> None:
    rows = recording("vivid_640x360_30fps_eof")
    rows[10][2] = 0
    stamper, timings = run(rows, TimestampPolicy.DRIVER)
    assert timings[10].time.ns == 0 and stamper.problems["zero"] == 1
    assert any("is zero" in w for w in timings[10].warnings)

    stamper, timings = run(rows, TimestampPolicy.REPAIR)
    repaired = timings[10]
    assert repaired.time.ns == max(rows[10][3], rows[9][2] + FRAME)
    assert repaired.flags & BufferFlags.RESYNC
    assert repaired.capture == (ClockDomain.MONOTONIC, 0)
    others = timings[:10] + timings[11:]
    assert all(not t.flags & BufferFlags.RESYNC for t in others)
    assert [t.time.ns for t in timings[11:]] == [row[2] for row in rows[11:]]

    stamper = FrameTimestamps(DEVICE, TimestampPolicy.STRICT, FRAME)
    for row in rows[:10]:
        stamper.stamp(*row)
    with pytest.raises(TimestampError, match="is zero"):
        stamper.stamp(*rows[10])


def test_backwards_timestamps_are_repaired_to_increase() -> None:
    rows = recording("vivid_640x360_30fps_soe")
    rows[20][2] = rows[18][2]  # non-monotonic
    rows[21][2] = rows[21 - 1][2]  # equal to the (bogus) previous
    rows[30][2] = rows[29][2] - 5 * SECOND
    stamper, timings = run(rows, TimestampPolicy.REPAIR)
    times = [t.time.ns for t in timings]
    assert all(b > a for a, b in itertools.pairwise(times))
    assert stamper.problems["backwards"] == 3
    assert [i for i, t in enumerate(timings) if t.flags & BufferFlags.RESYNC] == [20, 21, 30]
    assert sum("is not after the previous" in w for t in timings for w in t.warnings) == 1

    stamper, timings = run(rows, TimestampPolicy.DRIVER)
    assert [t.time.ns for t in timings] == [row[2] for row in rows]
    with pytest.raises(TimestampError, match="is not after"):
        run(rows, TimestampPolicy.STRICT)


# -- clock domains -------------------------------------------------------------------------------


@pytest.mark.parametrize("domain_flag", [TIMESTAMP_COPY, TIMESTAMP_UNKNOWN])
def test_copy_and_unknown_timestamps_fall_back_to_dequeue_time(domain_flag: int) -> None:
    rows = recording("vivid_640x360_30fps_eof")
    for row in rows:
        row[0] = (row[0] & ~TIMESTAMP_MASK) | domain_flag
    stamper, timings = run(rows, TimestampPolicy.REPAIR)
    for row, timing in zip(rows, timings, strict=True):
        assert timing.capture == (ClockDomain.UNKNOWN, row[2])
        assert timing.time.domain is ClockDomain.MONOTONIC
        assert timing.time.ns >= row[3]
        assert timing.flags & BufferFlags.RESYNC
    assert timings[0].time.ns == rows[0][3]
    assert sum(len(t.warnings) for t in timings) == 1 + ("sequence-repeat" in stamper.problems)
    assert stamper.domain is ClockDomain.UNKNOWN
    with pytest.raises(TimestampError, match="not CLOCK_MONOTONIC"):
        run(rows, TimestampPolicy.STRICT)


def test_driver_error_flag_marks_the_buffer_corrupted() -> None:
    rows = recording("vivid_640x360_30fps_eof")
    rows[3][0] |= BUF_FLAG_ERROR
    _, timings = run(rows)
    assert [bool(t.flags & BufferFlags.CORRUPTED) for t in timings[:5]] == [0, 0, 0, 1, 0]


def test_clean_stream_has_no_summary() -> None:
    rows = [[TIMESTAMP_MONOTONIC | 1, n, SECOND + n * FRAME, SECOND + n * FRAME] for n in range(9)]
    stamper, timings = run(rows)
    assert stamper.summary() is None
    assert not any(t.warnings or t.flags for t in timings)


# -- properties ----------------------------------------------------------------------------------


@given(
    st.lists(
        st.tuples(
            st.integers(0, 3 * SECOND),  # driver timestamp, anything
            st.integers(0, 100_000_000),  # dequeue step
            st.integers(0, 3),  # sequence step
        ),
        min_size=1,
        max_size=60,
    )
)
def test_repair_always_gives_increasing_times(frames: list[tuple[int, int, int]]) -> None:
    stamper = FrameTimestamps(DEVICE, TimestampPolicy.REPAIR, FRAME)
    dequeued, sequence, last = SECOND, 0, None
    for timestamp, dequeue_step, sequence_step in frames:
        dequeued += dequeue_step
        sequence += sequence_step
        timing = stamper.stamp(TIMESTAMP_MONOTONIC, sequence, timestamp, dequeued)
        assert last is None or timing.time.ns > last
        assert bool(timing.flags & BufferFlags.RESYNC) == (timing.time.ns != timestamp)
        assert timing.capture.ns == timestamp
        last = timing.time.ns
