import numpy as np

from parallax.buffer import Buffer, BufferFlags, Metadata
from parallax.time import CaptureTime, ClockDomain


def full_metadata() -> Metadata:
    return Metadata(
        pts=10,
        dts=7,
        duration=33_333_333,
        offset=4,
        offset_end=5,
        sequence=99,
        flags=BufferFlags.DISCONT | BufferFlags.DELTA_UNIT,
        capture=CaptureTime(ClockDomain.MONOTONIC, 123_456_789),
    )


def test_copy_is_equal_and_independent():
    meta = full_metadata()
    copy = meta.copy()
    assert copy == meta
    assert copy is not meta
    copy.pts = 11
    copy.flags |= BufferFlags.GAP
    assert meta.pts == 10
    assert meta.flags == BufferFlags.DISCONT | BufferFlags.DELTA_UNIT
    assert copy != meta


def test_copy_covers_every_field():
    meta = full_metadata()
    copy = meta.copy()
    for name in Metadata.__slots__:
        assert getattr(copy, name) == getattr(meta, name), name
        assert getattr(meta, name) not in (None, BufferFlags.NONE), f"{name} left at default"


def test_effective_dts_falls_back_to_pts():
    assert Metadata(pts=5).effective_dts == 5
    assert Metadata(pts=5, dts=3).effective_dts == 3
    assert Metadata().effective_dts is None


def test_buffer_reads_and_writes_through_to_meta():
    buffer = Buffer(np.zeros((4, 2), np.int16), full_metadata())
    for name in Metadata.__slots__:
        assert getattr(buffer, name) == getattr(buffer.meta, name)
    buffer.pts = 42
    buffer.flags = BufferFlags.GAP
    assert buffer.meta.pts == 42
    assert buffer.meta.flags == BufferFlags.GAP
    assert buffer.size == 16


def test_with_data_copies_meta_not_shares():
    buffer = Buffer(b"abc", full_metadata())
    other = buffer.with_data(b"defg")
    assert other.meta == buffer.meta
    other.pts = 0
    assert buffer.pts == 10
    assert other.size == 4


def test_repr_shows_times():
    text = repr(Buffer(b"x", Metadata(pts=1_000_000_000, flags=BufferFlags.DISCONT)))
    assert "pts=0:00:01.000000000" in text
    assert "DISCONT" in text
