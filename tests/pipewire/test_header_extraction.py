"""The capture path's extraction (spa_meta_header, chunk) on spa_buffers built in C memory.

`pipewire._extract` builds a `struct spa_buffer` with the given metas and one data plane and
runs the same C function the process callback runs; no daemon is involved.
"""

import struct

import pytest

from parallax._ext import pipewire as pw

INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
META_BUSY = pw.META_HEADER + 7  # any other meta type: SPA_META_Busy is 8 in 0.3.65


def header(flags=0, offset=0, pts=0, dts_offset=0, seq=0):
    return pw._pack_header(flags, offset, pts, dts_offset, seq)


def test_header_layout_is_the_c_struct():
    # struct spa_meta_header { uint32 flags, offset; int64 pts, dts_offset; uint64 seq; }
    assert pw.HEADER_SIZE == 32
    assert header(1, 2, -3, 4, 5) == struct.pack("=IIqqQ", 1, 2, -3, 4, 5)


@pytest.mark.parametrize(
    "fields",
    [
        (0, 0, 0, 0, 0),
        (pw.HEADER_FLAG_DISCONT, 7, 1_708_586_874_766, -40_000_000, 41),
        (
            pw.HEADER_FLAG_CORRUPTED | pw.HEADER_FLAG_DISCONT,
            2**32 - 1,
            INT64_MAX,
            INT64_MIN,
            UINT64_MAX,
        ),
        (0, 0, INT64_MIN, INT64_MAX, 1),
    ],
)
def test_header_fields_come_back_exactly(fields):
    found, payload = pw._extract([(pw.META_HEADER, header(*fields))], b"abcd", 4, 0, 4)
    assert found == fields
    assert payload == b"abcd"


@pytest.mark.parametrize("position", [0, 1, 2])
def test_header_is_found_among_other_metas(position):
    metas = [(META_BUSY, b"\xff" * 8), (META_BUSY + 1, b"\xee" * 40)]
    metas.insert(position, (pw.META_HEADER, header(pts=123, seq=9)))
    found, _ = pw._extract(metas, b"x", 1, 0, 1)
    assert found == (0, 0, 123, 0, 9)


def test_no_header_or_a_short_one_is_none():
    assert pw._extract([], b"x", 1, 0, 1)[0] is None
    assert pw._extract([(META_BUSY, header(pts=5))], b"x", 1, 0, 1)[0] is None
    short = header(pts=5)[: pw.HEADER_SIZE - 1]
    assert pw._extract([(pw.META_HEADER, short)], b"x", 1, 0, 1)[0] is None


def test_first_header_wins_when_there_are_two():
    metas = [(pw.META_HEADER, header(seq=1)), (pw.META_HEADER, header(seq=2))]
    assert pw._extract(metas, b"x", 1, 0, 1)[0][4] == 1


def test_chunk_offset_wraps_at_maxsize_and_size_is_clamped():
    data = bytes(range(16))
    assert pw._extract([], data, 16, 4, 8)[1] == data[4:12]
    assert pw._extract([], data, 16, 4 + 16, 8)[1] == data[4:12]  # offset modulo maxsize
    assert pw._extract([], data, 16, 12, 100)[1] == data[12:16]  # size clamped to maxsize
    assert pw._extract([], data, 16, 0, 0)[1] == b""


def test_unmapped_plane_is_refused_but_the_header_is_still_read():
    found, payload = pw._extract([(pw.META_HEADER, header(seq=3))], b"", 0, 0, 0)
    assert payload is None
    assert found == (0, 0, 0, 0, 3)
