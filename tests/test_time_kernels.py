"""The exact time kernels against a pure-Python reference (Python ints: no rounding at all)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parallax.time import (
    NONE_NS,
    SECOND,
    fill_missing_pts,
    interpolate_durations,
    sample_pts,
    sample_time,
    scale,
    scale_array,
    split_pts,
)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1

NAMED_RATES = [1, 2, 3, 8000, 22050, 44100, 47999, 48000, 96000, 192000, 384000]

int64s = st.integers(INT64_MIN, INT64_MAX)
rates = st.sampled_from(NAMED_RATES) | st.integers(1, 384_000)
# Mostly realistic magnitudes, sometimes anything an int64 holds.
positions = st.integers(-(2**62), 2**62) | st.integers(0, 2**40) | int64s
bases = st.integers(-(2**62), 2**62) | st.sampled_from([0, INT64_MIN + 1, INT64_MAX]) | int64s

SETTINGS = settings(max_examples=400, deadline=None)


class OverflowAtError(Exception):
    """The reference result for ``index`` does not fit int64 (or is NONE_NS in an array)."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def fits(value: int) -> bool:
    return INT64_MIN < value <= INT64_MAX


def ref_scale_add(values: list[int], num: int, denom: int, base: int) -> list[int]:
    out = []
    for i, value in enumerate(values):
        if value == NONE_NS or base == NONE_NS:  # unknown in, unknown out
            out.append(NONE_NS)
            continue
        result = base + value * num // denom  # Python's // floors, exactly
        if not fits(result):
            raise OverflowAtError(i)
        out.append(result)
    return out


def ref_durations(pts: list[int], nominal: int) -> list[int]:
    out = []
    for i, (here, after) in enumerate(itertools.pairwise(pts)):
        if here == NONE_NS or after == NONE_NS or after <= here:
            out.append(nominal)
        elif after - here > INT64_MAX:
            raise OverflowAtError(i)
        else:
            out.append(after - here)
    return [*out, nominal] if pts else []


def ref_fill(pts: list[int], nominal: int) -> list[int]:
    known = [i for i, p in enumerate(pts) if p != NONE_NS]
    if not pts:
        return []
    out = []
    anchor = known[0]
    for i, p in enumerate(pts):
        if p != NONE_NS:
            anchor = i
            out.append(p)
            continue
        result = pts[anchor] + (i - anchor) * nominal
        if not fits(result):
            raise OverflowAtError(i)
        out.append(result)
    return out


def array(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64).reshape(len(values))


def check_against(reference, call, name: str) -> None:  # type: ignore[no-untyped-def]
    """Run the reference; the kernel must give the same list or raise at the same index."""
    try:
        expected = reference()
    except OverflowAtError as overflow:
        with pytest.raises(OverflowError, match=re.escape(f"{name}[{overflow.index}]")):
            call()
        return
    result = call()
    assert result.dtype == np.int64
    assert result.tolist() == expected


def with_none(values: st.SearchStrategy[int]) -> st.SearchStrategy[list[int]]:
    return st.lists(values | st.just(NONE_NS), max_size=40)


# --------------------------------------------------------------------------------- scale


@SETTINGS
@given(value=int64s, num=int64s, denom=int64s.filter(bool))
def test_scale_matches_reference(value: int, num: int, denom: int) -> None:
    expected = value * num // denom
    if INT64_MIN <= expected <= INT64_MAX:
        assert scale(value, num, denom) == expected
    else:
        with pytest.raises(OverflowError, match="does not fit int64"):
            scale(value, num, denom)


@pytest.mark.parametrize(
    ("value", "num", "denom", "expected"),
    [
        (1, SECOND, 30, 33_333_333),
        (-1, SECOND, 30, -33_333_334),  # floor, not truncation
        (7, -1, 2, -4),
        (7, 1, -2, -4),
        (-7, -1, -2, -4),
        (INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX),
        (INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN),
        (INT64_MIN, INT64_MAX, INT64_MAX, INT64_MIN),
        (INT64_MIN, 1, 1, INT64_MIN),
        (INT64_MAX, 1, 1, INT64_MAX),
        (INT64_MIN, 1, -2, 2**62),
        (2**40, SECOND, 44100, 24_932_236_457_505_668),
        (2**62, SECOND, 2**62, SECOND),
    ],
)
def test_scale_exact_values(value: int, num: int, denom: int, expected: int) -> None:
    assert scale(value, num, denom) == expected


@pytest.mark.parametrize(
    ("value", "num", "denom"),
    [(INT64_MIN, -1, 1), (INT64_MIN, 1, -1), (INT64_MAX, 2, 1), (INT64_MAX, INT64_MAX, 1)],
)
def test_scale_overflow(value: int, num: int, denom: int) -> None:
    with pytest.raises(OverflowError, match="does not fit int64"):
        scale(value, num, denom)


def test_scale_accepts_numpy_integers() -> None:
    assert scale(np.int64(3), np.int32(SECOND), np.uint16(30)) == 100_000_000


# --------------------------------------------------------------------------- scale_array


def ratio_values(num: int, denom: int) -> st.SearchStrategy[int]:
    """Values where the kernel changes path: |x| near (2**64 - 1) // |denom|, results near the
    int64 limits, plus anything."""
    edges: list[int] = []
    if denom:
        top = UINT64_MAX // abs(denom)
        edges += [top - 1, top, top + 1, -top - 1, -top, -top + 1]
    if num:
        # inputs whose result is right at INT64_MAX / INT64_MIN + 1 / INT64_MIN
        for target in (INT64_MAX + 1, INT64_MIN + 1, INT64_MIN):
            x = -(-target * denom // num)
            edges += [x - 2, x - 1, x, x + 1]
    edges = [e for e in edges if INT64_MIN <= e <= INT64_MAX]
    return st.sampled_from(edges) | positions if edges else positions


ratios = st.tuples(
    st.integers(-(2**31), 2**31) | st.sampled_from([SECOND, 90_000, 1001, 0]) | int64s,
    st.integers(1, 2**31) | st.sampled_from([SECOND, 30_000, 44100, 1]) | int64s.filter(bool),
)


@SETTINGS
@given(ratio=ratios, data=st.data())
def test_scale_array_matches_reference(ratio: tuple[int, int], data: st.DataObject) -> None:
    num, denom = ratio
    values = data.draw(with_none(ratio_values(num, denom)))
    check_against(
        lambda: ref_scale_add(values, num, denom, 0),
        lambda: scale_array(array(values), num, denom),
        "values",
    )


@SETTINGS
@given(values=with_none(int64s), num=st.sampled_from([1, -1, 2, -2, INT64_MIN, INT64_MAX]))
def test_scale_array_negative_and_extreme_ratios(values: list[int], num: int) -> None:
    for denom in (1, -1, -3, INT64_MIN, INT64_MAX):
        check_against(
            lambda denom=denom: ref_scale_add(values, num, denom, 0),
            lambda denom=denom: scale_array(array(values), num, denom),
            "values",
        )


@pytest.mark.parametrize(("num", "denom"), [(SECOND, 44100), (90_000, SECOND), (-1001, 30_000)])
@pytest.mark.parametrize("odd_one", [None, "none", "huge", "overflow"])
def test_scale_array_long_arrays(num: int, denom: int, odd_one: str | None) -> None:
    # long enough for the vectorized path; one odd element sends it to the scalar path
    rng = np.random.default_rng(7)
    values = rng.integers(-(2**40), 2**40, 5000).tolist()
    odd = {None: values[0], "none": NONE_NS, "huge": INT64_MAX // 3, "overflow": INT64_MAX}
    values[3333] = odd[odd_one]
    check_against(
        lambda: ref_scale_add(values, num, denom, 0),
        lambda: scale_array(array(values), num, denom),
        "values",
    )


def test_scale_array_int64_boundary() -> None:
    # results exactly at the top of int64 are fine ...
    assert scale_array(array([INT64_MAX]), 1, 1).tolist() == [INT64_MAX]
    assert scale_array(array([INT64_MAX]), 3, 3).tolist() == [INT64_MAX]
    x = INT64_MAX // 49 * 2  # INT64_MAX is a multiple of 49
    assert scale_array(array([x, -x]), 49, 2).tolist() == [INT64_MAX, -INT64_MAX]
    with pytest.raises(OverflowError, match=r"values\[1\]"):
        scale_array(array([x, x + 1]), 49, 2)
    with pytest.raises(OverflowError, match=r"values\[1\]"):  # -x - 1 gives < INT64_MIN + 1
        scale_array(array([-x, -x - 1]), 49, 2)
    # ... and at the bottom, down to INT64_MIN + 1; INT64_MIN itself would read as NONE_NS
    assert scale_array(array([INT64_MIN + 1]), 1, 1).tolist() == [INT64_MIN + 1]
    assert scale_array(array([INT64_MAX]), -1, 1).tolist() == [INT64_MIN + 1]
    with pytest.raises(OverflowError, match=r"values\[0\]"):
        scale_array(array([2**62]), -2, 1)


def test_scale_array_keeps_none_and_empty() -> None:
    assert scale_array(array([NONE_NS, 2, NONE_NS]), -3, 2).tolist() == [NONE_NS, -3, NONE_NS]
    assert scale_array(array([]), 1, 3).tolist() == []
    assert scale_array(array([0]), INT64_MIN, -1).tolist() == [0]  # -2**63 cannot be negated


# ---------------------------------------------------------------------------- sample_pts


@SETTINGS
@given(rate=rates, base=bases, data=st.data())
def test_sample_pts_matches_reference(rate: int, base: int, data: st.DataObject) -> None:
    values = data.draw(with_none(positions | ratio_values(SECOND, rate)))
    check_against(
        lambda: ref_scale_add(values, SECOND, rate, base),
        lambda: sample_pts(array(values), rate, base),
        "positions",
    )


@SETTINGS
@given(
    position=positions | st.just(NONE_NS),
    rate=rates | int64s.filter(lambda r: r > 0),
    base=bases,
)
def test_sample_time_is_sample_pts_of_one(position: int, rate: int, base: int) -> None:
    try:
        expected = sample_pts(array([position]), rate, base).tolist()[0]
    except OverflowError:
        with pytest.raises(OverflowError, match="sample_time"):
            sample_time(position, rate, base)
    else:
        assert sample_time(position, rate, base) == expected


def test_sample_pts_examples() -> None:
    assert sample_pts(array([0, 1, 44100]), 44100).tolist() == [0, 22_675, SECOND]
    assert sample_pts(array([-1]), 44100, -5).tolist() == [-22_681]
    with pytest.raises(OverflowError, match=r"positions\[0\]"):
        sample_pts(array([2**62]), 1)
    assert sample_pts(array([]), 47999, -(2**62)).tolist() == []


@pytest.mark.parametrize("rate", NAMED_RATES)
def test_sample_pts_int64_boundary(rate: int) -> None:
    position = 2**30 + 7
    offset = position * SECOND // rate
    top = INT64_MAX - offset  # base that puts the result exactly at INT64_MAX
    assert sample_pts(array([position]), rate, top).tolist() == [INT64_MAX]
    assert sample_time(position, rate, top) == INT64_MAX
    with pytest.raises(OverflowError, match=r"positions\[1\]"):
        sample_pts(array([position, position + rate]), rate, top)
    lowest = INT64_MIN + 1 - ((-position) * SECOND // rate)
    assert sample_pts(array([-position]), rate, lowest).tolist() == [INT64_MIN + 1]
    with pytest.raises(OverflowError, match=r"positions\[0\]"):  # would be INT64_MIN
        sample_pts(array([-position]), rate, lowest - 1)
    with pytest.raises(OverflowError, match="sample_time"):
        sample_time(-position, rate, lowest - 1)


def test_scaled_part_may_leave_int64_when_the_sum_does_not() -> None:
    base = INT64_MIN + 1
    position = 10_393_675_393  # 1.04e19 ns after base: beyond INT64_MAX alone
    expected = base + position * SECOND
    assert sample_time(position, 1, base) == expected
    assert sample_pts(array([position]), 1, base).tolist() == [expected]
    rate = 2**40 + 1  # num * denom >= 2**64: the kernel's general path
    big = INT64_MAX - 5
    assert sample_pts(array([big]), rate, base).tolist() == [base + big * SECOND // rate]
    starts, durations = split_pts(base, position, 8_053_068_680, 1)
    assert starts.tolist() == [base, base + 8_053_068_680 * SECOND]
    assert sum(durations.tolist()) == position * SECOND
    with pytest.raises(OverflowError, match="split_pts"):  # one piece longer than INT64_MAX
        split_pts(base, position, position, 1)


def test_sample_pts_none_base_propagates() -> None:
    out = sample_pts(array([0, 1, NONE_NS]), 48000, NONE_NS)
    assert out.tolist() == [NONE_NS] * 3
    assert sample_time(5, 48000, NONE_NS) == NONE_NS
    assert sample_time(NONE_NS, 48000, 5) == NONE_NS


# ----------------------------------------------------------------- interpolate_durations


@SETTINGS
@given(
    pts=with_none(int64s) | st.lists(st.integers(-(2**40), 2**40), max_size=40),
    nominal=st.integers(0, INT64_MAX),
)
def test_interpolate_durations_matches_reference(pts: list[int], nominal: int) -> None:
    check_against(
        lambda: ref_durations(pts, nominal),
        lambda: interpolate_durations(array(pts), nominal),
        "pts",
    )


def test_interpolate_durations_examples() -> None:
    pts = array([0, 10, NONE_NS, 30, 25, 40])
    assert interpolate_durations(pts, 7).tolist() == [10, 7, 7, 7, 15, 7]
    assert interpolate_durations(array([]), 7).tolist() == []
    assert interpolate_durations(array([5]), 7).tolist() == [7]
    assert interpolate_durations(array([0, INT64_MAX]), 7).tolist() == [INT64_MAX, 7]
    with pytest.raises(OverflowError, match=r"pts\[1\]"):
        interpolate_durations(array([0, -2, INT64_MAX]), 7)
    # long enough for the vectorized loop, with the overflow late in it
    long = np.arange(1000, dtype=np.int64)
    long[900] = INT64_MIN + 1
    long[901] = INT64_MAX
    with pytest.raises(OverflowError, match=r"pts\[900\]"):
        interpolate_durations(long, 1)


# ---------------------------------------------------------------------- fill_missing_pts


@SETTINGS
@given(pts=with_none(int64s | st.integers(-1000, 1000)), nominal=st.integers(1, INT64_MAX))
def test_fill_missing_pts_matches_reference(pts: list[int], nominal: int) -> None:
    if pts and all(p == NONE_NS for p in pts):
        with pytest.raises(ValueError, match="no known entry"):
            fill_missing_pts(array(pts), nominal)
        return
    check_against(
        lambda: ref_fill(pts, nominal), lambda: fill_missing_pts(array(pts), nominal), "pts"
    )


def test_fill_missing_pts_examples() -> None:
    assert fill_missing_pts(array([NONE_NS, 10, NONE_NS, 30, NONE_NS]), 5).tolist() == [
        5,
        10,
        15,
        30,
        35,
    ]
    assert fill_missing_pts(array([]), 5).tolist() == []
    # the step alone leaves int64 but the sum does not
    start = INT64_MIN + 5
    filled = fill_missing_pts(array([start, NONE_NS, NONE_NS, NONE_NS]), 2**62)
    assert filled.tolist() == [start + k * 2**62 for k in range(4)]
    with pytest.raises(OverflowError, match=r"pts\[0\]"):  # would be INT64_MIN == NONE_NS
        fill_missing_pts(array([NONE_NS, INT64_MIN + 1]), 1)


# ----------------------------------------------------------------------------- split_pts


@settings(max_examples=400, deadline=None)
@given(
    pts=bases,
    n_samples=st.integers(0, 5000) | st.integers(0, 2**40),
    chunk=st.integers(1, 5000) | st.integers(1, 2**40),
    rate=rates,
)
def test_split_pts_is_exact(pts: int, n_samples: int, chunk: int, rate: int) -> None:
    count = -(-n_samples // chunk)
    if count > 100_000:
        chunk = -(-n_samples // 100_000)  # keep the arrays small
        count = -(-n_samples // chunk)
    if chunk * SECOND < rate:
        with pytest.raises(ValueError, match="chunk"):
            split_pts(pts, n_samples, chunk, rate)
        return
    origin = 0 if pts == NONE_NS else pts  # unknown PTS: durations still known
    end = origin + n_samples * SECOND // rate
    expected = [origin + k * chunk * SECOND // rate for k in range(count)]
    lengths = [b - a for a, b in zip(expected, [*expected[1:], end], strict=False)]
    if end > INT64_MAX or any(length > INT64_MAX for length in lengths):
        with pytest.raises(OverflowError, match="split_pts"):
            split_pts(pts, n_samples, chunk, rate)
        return
    starts, durations = split_pts(pts, n_samples, chunk, rate)
    assert starts.tolist() == ([NONE_NS] * count if pts == NONE_NS else expected)
    assert all(a < b for a, b in itertools.pairwise(expected))
    assert durations.tolist() == [
        b - a for a, b in zip(expected, [*expected[1:], end], strict=False)
    ]
    assert sum(durations.tolist()) == n_samples * SECOND // rate


def test_split_pts_examples() -> None:
    starts, durations = split_pts(0, 1000, 300, 44100)
    assert starts.tolist() == [0, 6_802_721, 13_605_442, 20_408_163]
    assert durations.tolist() == [6_802_721, 6_802_721, 6_802_721, 2_267_573]
    assert durations.sum() == scale(1000, SECOND, 44100)
    starts, durations = split_pts(5, 0, 300, 44100)
    assert starts.tolist() == durations.tolist() == []
    starts, durations = split_pts(-SECOND, 1, 1, 8000)
    assert starts.tolist() == [-SECOND]
    assert durations.tolist() == [125_000]


def test_split_pts_huge_values_raise_before_allocating() -> None:
    # pts + 2**62 samples at 1 Hz cannot fit: refused before a 2**62-element array is made
    with pytest.raises(OverflowError, match="split_pts"):
        split_pts(0, 2**62, 1, 1)
    # chunk near n_samples near 2**63: the piece count must not overflow
    starts, durations = split_pts(0, INT64_MAX, 2**62 + 1, 1_000_000_000)
    assert starts.tolist() == [0, 2**62 + 1]
    assert durations.tolist() == [2**62 + 1, INT64_MAX - 2**62 - 1]
    with pytest.raises(OverflowError, match="split_pts"):
        split_pts(1, INT64_MAX, 2**62, SECOND)


# ----------------------------------------------------------------------------- bad input

GOOD = np.arange(4, dtype=np.int64)

ARRAY_CALLS = {
    "scale_array": (lambda a: scale_array(a, 1, 2), "values"),
    "sample_pts": (lambda a: sample_pts(a, 48000), "positions"),
    "interpolate_durations": (lambda a: interpolate_durations(a, 1), "pts"),
    "fill_missing_pts": (lambda a: fill_missing_pts(a, 1), "pts"),
}

BAD_ARRAYS = {
    "list": [0, 1, 2],
    "int32": np.arange(4, dtype=np.int32),
    "uint64": np.arange(4, dtype=np.uint64),
    "float64": np.arange(4, dtype=np.float64),
    "big-endian": np.arange(4, dtype=">i8"),
    "strided": np.arange(8, dtype=np.int64)[::2],
    "2-D": np.arange(4, dtype=np.int64).reshape(2, 2),
    "0-D": np.array(3, dtype=np.int64),
}


@pytest.mark.parametrize("function", ARRAY_CALLS)
@pytest.mark.parametrize("bad", BAD_ARRAYS)
def test_bad_arrays_are_refused(function: str, bad: str) -> None:
    call, name = ARRAY_CALLS[function]
    with pytest.raises(ValueError, match=f"^{name} must"):
        call(BAD_ARRAYS[bad])


@pytest.mark.parametrize("function", ARRAY_CALLS)
def test_read_only_arrays_are_fine(function: str) -> None:
    call, _ = ARRAY_CALLS[function]
    frozen = GOOD.copy()
    frozen.flags.writeable = False
    assert call(frozen).tolist() == call(GOOD.copy()).tolist()


SCALAR_CALLS = {
    "scale value": (lambda v: scale(v, 1, 1), "value"),
    "scale num": (lambda v: scale(1, v, 1), "num"),
    "scale denom": (lambda v: scale(1, 1, v), "denom"),
    "sample_time position": (lambda v: sample_time(v, 48000), "position"),
    "sample_time rate": (lambda v: sample_time(1, v), "rate"),
    "sample_time base_ns": (lambda v: sample_time(1, 48000, v), "base_ns"),
    "scale_array num": (lambda v: scale_array(GOOD, v, 1), "num"),
    "scale_array denom": (lambda v: scale_array(GOOD, 1, v), "denom"),
    "sample_pts rate": (lambda v: sample_pts(GOOD, v), "rate"),
    "sample_pts base_ns": (lambda v: sample_pts(GOOD, 48000, v), "base_ns"),
    "interpolate_durations nominal": (lambda v: interpolate_durations(GOOD, v), "nominal"),
    "fill_missing_pts nominal": (lambda v: fill_missing_pts(GOOD, v), "nominal"),
    "split_pts pts": (lambda v: split_pts(v, 10, 5, 48000), "pts"),
    "split_pts n_samples": (lambda v: split_pts(0, v, 5, 48000), "n_samples"),
    "split_pts chunk": (lambda v: split_pts(0, 10, v, 48000), "chunk"),
    "split_pts rate": (lambda v: split_pts(0, 10, 5, v), "rate"),
}


@pytest.mark.parametrize("call", SCALAR_CALLS)
@pytest.mark.parametrize("bad", [True, False, 1.0, "1", None, np.float64(1), np.bool_(True)])
def test_non_int_scalars_are_refused(call: str, bad: object) -> None:
    function, name = SCALAR_CALLS[call]
    with pytest.raises(TypeError, match=f"^{name} must be an int"):
        function(bad)


@pytest.mark.parametrize("call", SCALAR_CALLS)
@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1, 2**100])
def test_scalars_outside_int64_are_refused(call: str, bad: int) -> None:
    function, name = SCALAR_CALLS[call]
    with pytest.raises(OverflowError, match=f"^{name}={bad} does not fit"):
        function(bad)


@pytest.mark.parametrize(
    ("call", "bad", "message"),
    [
        (lambda v: scale(1, 1, v), 0, "denom must not be 0"),
        (lambda v: scale_array(GOOD, 1, v), 0, "denom must not be 0"),
        (lambda v: sample_time(1, v), 0, "rate must be > 0"),
        (lambda v: sample_time(1, v), -48000, "rate must be > 0"),
        (lambda v: sample_pts(GOOD, v), 0, "rate must be > 0"),
        (lambda v: sample_pts(GOOD, v), -1, "rate must be > 0"),
        (lambda v: split_pts(0, 10, 5, v), 0, "rate must be >= 1"),
        (lambda v: split_pts(0, 10, 5, v), -44100, "rate must be >= 1"),
        (lambda v: split_pts(0, 10, v, 48000), 0, "chunk must be >= 1"),
        (lambda v: split_pts(0, v, 5, 48000), -1, "n_samples must be >= 0"),
        (lambda v: split_pts(0, 10, 1, v), SECOND + 1, "chunk=1 samples at rate="),
        (lambda v: interpolate_durations(GOOD, v), -1, "nominal must be >= 0"),
        (lambda v: fill_missing_pts(GOOD, v), 0, "nominal must be >= 1"),
        (lambda v: fill_missing_pts(array([NONE_NS, NONE_NS]), v), 1, "no known entry"),
    ],
)
def test_out_of_range_arguments_are_refused(call, bad: int, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=re.escape(message)):
        call(bad)


def test_numpy_integer_scalars_are_accepted() -> None:
    assert (
        sample_pts(GOOD, np.int64(48000), np.int32(5)).tolist()
        == sample_pts(GOOD, 48000, 5).tolist()
    )
    assert sample_time(np.uint32(48000), np.int64(48000)) == SECOND
