# Exact timestamp kernels: scaling, sample-position PTS, durations, chunk splitting.
#
# Each kernel is a `noexcept nogil` loop (here, or in C in timescale.h where the loop must be
# branch-free or use 128-bit multiplies) that returns a status (-1 = done, else the index
# where the int64 result overflowed); the `def` beside it releases the GIL, calls it and
# returns the status. Argument checking (dtype, contiguity, ranges) and the docs live in
# parallax/time.py.
cimport cython
from libc.stdint cimport INT64_MIN, int64_t

import numpy as np

from timescale cimport (
    PX_OK,
    px_array_scaler,
    px_array_scaler_make,
    px_durations,
    px_scale_add_array,
    px_scale_add_fast,
    px_muladd,
    px_scale,
    px_scale_add,
    px_scaler_fits,
    px_sub,
)

cdef int64_t NONE = INT64_MIN
cdef int64_t SECOND = 1_000_000_000

NONE_NS = NONE


cdef inline int64_t _as_int64(object value, str name) except? -1:
    # bool is an int subclass, but True as a time or a rate is a bug in the caller.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    value = int(value)
    if not (-(2**63) <= value < 2**63):
        raise OverflowError(f"{name}={value} does not fit a signed 64-bit integer")
    return value


def scale(value, num, denom):
    """scale(value, num, denom) -> int: floor(value * num / denom), exact for all int64."""
    cdef int64_t v = _as_int64(value, "value")
    cdef int64_t n = _as_int64(num, "num")
    cdef int64_t d = _as_int64(denom, "denom")
    cdef int64_t out
    if d == 0:
        raise ValueError("denom must not be 0")
    if px_scale(v, n, d, &out) != PX_OK:
        raise OverflowError(
            f"scale({v}, {n}, {d}) = {int(v) * int(n) // int(d)} does not fit int64"
        )
    return out


def sample_time(position, rate, base_ns=0):
    """sample_time(position, rate, base_ns=0) -> int: base_ns + floor(position * 1e9 / rate)."""
    cdef int64_t p = _as_int64(position, "position")
    cdef int64_t r = _as_int64(rate, "rate")
    cdef int64_t b = _as_int64(base_ns, "base_ns")
    cdef int64_t out
    if r <= 0:
        raise ValueError(f"rate must be > 0 samples per second, got {r}")
    if p == NONE or b == NONE:  # unknown in, unknown out, as in sample_pts
        return NONE
    if px_scale_add(p, SECOND, r, b, &out) != PX_OK or out == NONE:
        raise OverflowError(
            f"sample_time({p}, {r}, {b}) does not fit int64 nanoseconds (or is NONE_NS)"
        )
    return out


cdef tuple _input_range(object num, object denom, object base):
    # The inputs x whose result base + floor(x * num / denom) lies in (INT64_MIN, INT64_MAX]
    # (num >= 0, denom >= 1), as (lo, hi); (1, 0) when there are none. Python ints: exact.
    lowest, highest = -(2**63) + 1, 2**63 - 1
    if num == 0:
        return (lowest, highest) if base != NONE else (1, 0)
    hi = ((highest - base + 1) * denom - 1) // num  # x * num < (highest - base + 1) * denom
    lo = -((-(lowest - base) * denom) // num)  # x * num >= (lowest - base) * denom
    lo, hi = max(lo, lowest), min(hi, highest)
    return (lo, hi) if lo <= hi else (1, 0)


@cython.boundscheck(False)  # i < n == len(values) == len(out) by construction
@cython.wraparound(False)  # no negative indices
cdef Py_ssize_t _scale_add_general(
    const int64_t[::1] values, int64_t[::1] out, int64_t num, int64_t denom, int64_t base
) noexcept nogil:
    # A 128-bit division per element: for ratios whose num * denom does not fit 64 bits.
    cdef Py_ssize_t i, n = values.shape[0]
    for i in range(n):
        if values[i] == NONE:
            out[i] = NONE
        elif px_scale_add(values[i], num, denom, base, &out[i]) != PX_OK or out[i] == NONE:
            return i
    return -1


def scale_add_array(const int64_t[::1] values, int64_t num, int64_t denom, int64_t base):
    """scale_add_array(values, num, denom, base) -> (out, failed_index or -1)."""
    cdef Py_ssize_t n = values.shape[0]
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] out_view = out
    cdef Py_ssize_t failed = -1
    cdef px_array_scaler scaler
    cdef int64_t lo, hi
    if denom == 0:
        raise ValueError("denom must not be 0")
    if n == 0:
        return out, failed
    if num != INT64_MIN and px_scaler_fits(num if num >= 0 else -num, denom):
        lo, hi = _input_range(abs(num), denom, base)
        scaler = px_array_scaler_make(num, denom, base, lo, hi)
        with nogil:
            # all on the vectorized fast path, or else again one at a time
            if px_scale_add_fast(&scaler, &values[0], &out_view[0], n):
                failed = px_scale_add_array(&scaler, &values[0], &out_view[0], n)
    else:
        with nogil:
            failed = _scale_add_general(values, out_view, num, denom, base)
    return out, failed


def interpolate_durations(const int64_t[::1] pts, int64_t nominal):
    """interpolate_durations(pts, nominal) -> (durations, failed_index or -1)."""
    cdef Py_ssize_t n = pts.shape[0]
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] out_view = out
    cdef Py_ssize_t failed = -1
    if n > 0:
        with nogil:
            failed = px_durations(&pts[0], &out_view[0], n, nominal)
    return out, failed


@cython.boundscheck(False)  # every index is in [0, n) by construction
@cython.wraparound(False)  # no negative indices
cdef Py_ssize_t _fill_missing(const int64_t[::1] pts, int64_t[::1] out, int64_t nominal) noexcept nogil:
    # Returns -1 when done, n when there is no known PTS, else the index that overflowed.
    cdef Py_ssize_t i, n = pts.shape[0], known = -1
    for i in range(n):
        if pts[i] != NONE:
            known = i
            break
    if known < 0:
        return n if n > 0 else -1
    # Before the first known PTS: count back from it.
    for i in range(known):
        if px_muladd(pts[known], <int64_t>(i - known), nominal, &out[i]) != PX_OK:
            return i
    for i in range(known, n):
        if pts[i] != NONE:
            out[i] = pts[i]
            known = i
        elif px_muladd(pts[known], <int64_t>(i - known), nominal, &out[i]) != PX_OK:
            return i
    return -1


def fill_missing_pts(const int64_t[::1] pts, int64_t nominal):
    """fill_missing_pts(pts, nominal) -> (filled, status): -1 ok, n no known PTS, else index."""
    out = np.empty(pts.shape[0], dtype=np.int64)
    cdef int64_t[::1] out_view = out
    cdef Py_ssize_t failed
    with nogil:
        failed = _fill_missing(pts, out_view, nominal)
    return out, failed


@cython.boundscheck(False)  # k < count == len(starts) == len(durations) by construction
@cython.wraparound(False)  # no negative indices
cdef Py_ssize_t _split(
    int64_t pts, int64_t end, int64_t chunk, int64_t rate,
    int64_t[::1] starts, int64_t[::1] durations,
) noexcept nogil:
    cdef Py_ssize_t k, count = starts.shape[0]
    for k in range(count):
        # k * chunk < n_samples and the caller checked that pts + n_samples fits: every start
        # lies in [pts, end], so the start cannot overflow.
        if px_scale_add(k * chunk, SECOND, rate, pts, &starts[k]) != PX_OK:
            return k
    # A piece can last longer than INT64_MAX ns when pts is very negative.
    for k in range(count - 1):
        if px_sub(starts[k + 1], starts[k], &durations[k]):
            return k
    if count > 0 and px_sub(end, starts[count - 1], &durations[count - 1]):
        return count - 1
    return -1


def split_pts(int64_t pts, int64_t n_samples, int64_t chunk, int64_t rate):
    """split_pts(pts, n_samples, chunk, rate) -> (starts, durations, failed_index or -1).

    n_samples >= 0, chunk >= 1, rate >= 1. failed_index is -1, or count when the end of the
    buffer (pts + n_samples / rate) does not fit int64; nothing is allocated then.
    """
    cdef Py_ssize_t count = n_samples // chunk + (n_samples % chunk != 0)  # no overflow
    cdef int64_t end
    if px_scale_add(n_samples, SECOND, rate, pts, &end) != PX_OK:
        return None, None, count
    starts = np.empty(count, dtype=np.int64)
    durations = np.empty(count, dtype=np.int64)
    cdef int64_t[::1] starts_view = starts
    cdef int64_t[::1] durations_view = durations
    cdef Py_ssize_t failed
    with nogil:
        failed = _split(pts, end, chunk, rate, starts_view, durations_view)
    return starts, durations, failed
