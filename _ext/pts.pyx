# Exact timestamp kernels: scaling, sample-position PTS, durations, chunk splitting.
#
# Each kernel is a `noexcept nogil` loop that returns a status (-1 = done, else the index
# where the int64 result overflowed); the `def` beside it releases the GIL, calls it and
# raises. Argument checking (dtype, contiguity, ranges) and the docs live in parallax/time.py.
cimport cython
from libc.stdint cimport INT64_MIN, int64_t

import numpy as np

from timescale cimport (
    PX_OK,
    px_add,
    px_mul,
    px_scale,
    px_scaler,
    px_scaler_apply,
    px_scaler_fits,
    px_scaler_make,
    px_sub,
)

cdef int64_t NONE = INT64_MIN
cdef int64_t SECOND = 1_000_000_000

NONE_NS = NONE


cdef int64_t _gcd(int64_t a, int64_t b) noexcept nogil:
    while b:
        a, b = b, a % b
    return a


cdef inline int64_t _as_int64(object value, str name) except? -1:
    if not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
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
            f"scale({value}, {num}, {denom}) = {value * num // denom} does not fit int64"
        )
    return out


def sample_time(position, rate, base_ns=0):
    """sample_time(position, rate, base_ns=0) -> int: base_ns + floor(position * 1e9 / rate)."""
    cdef int64_t p = _as_int64(position, "position")
    cdef int64_t r = _as_int64(rate, "rate")
    cdef int64_t b = _as_int64(base_ns, "base_ns")
    cdef int64_t offset, out
    if r <= 0:
        raise ValueError(f"rate must be > 0 samples per second, got {rate}")
    if px_scale(p, SECOND, r, &offset) != PX_OK or px_add(b, offset, &out):
        raise OverflowError(
            f"sample_time({position}, {rate}, {base_ns}) does not fit int64 nanoseconds"
        )
    return out


@cython.boundscheck(False)  # i < n == len(values) == len(out) by construction
@cython.wraparound(False)  # no negative indices
cdef Py_ssize_t _scale_add(
    const int64_t[::1] values, int64_t[::1] out, int64_t num, int64_t denom, int64_t base
) noexcept nogil:
    cdef Py_ssize_t i, n = values.shape[0]
    cdef px_scaler scaler
    cdef int64_t scaled
    if px_scaler_fits(num, denom):
        scaler = px_scaler_make(num, denom)
        for i in range(n):
            if values[i] == NONE:
                out[i] = NONE
            elif px_scaler_apply(&scaler, values[i], base, &out[i]) != PX_OK or out[i] == NONE:
                return i
    else:
        for i in range(n):
            if values[i] == NONE:
                out[i] = NONE
            elif (
                px_scale(values[i], num, denom, &scaled) != PX_OK
                or px_add(scaled, base, &out[i])
                or out[i] == NONE
            ):
                return i
    return -1


def scale_add_array(const int64_t[::1] values, int64_t num, int64_t denom, int64_t base):
    """scale_add_array(values, num, denom, base) -> (out, failed_index or -1)."""
    out = np.empty(values.shape[0], dtype=np.int64)
    cdef int64_t[::1] out_view = out
    cdef Py_ssize_t failed
    with nogil:
        failed = _scale_add(values, out_view, num, denom, base)
    return out, failed


def reduced_ratio(int64_t num, int64_t denom):
    """reduced_ratio(num, denom) -> (num, denom) divided by their gcd (denom > 0)."""
    cdef int64_t g = _gcd(num if num >= 0 else -num, denom)
    return num // g, denom // g


@cython.boundscheck(False)  # i + 1 < n == len(pts) == len(out) by construction
@cython.wraparound(False)  # no negative indices
cdef Py_ssize_t _interpolate_durations(
    const int64_t[::1] pts, int64_t[::1] out, int64_t nominal
) noexcept nogil:
    cdef Py_ssize_t i, n = pts.shape[0]
    cdef int64_t here, after
    for i in range(n - 1):
        here = pts[i]
        after = pts[i + 1]
        if here == NONE or after == NONE or after <= here:
            out[i] = nominal
        elif px_sub(after, here, &out[i]):
            return i
    if n > 0:
        out[n - 1] = nominal
    return -1


def interpolate_durations(const int64_t[::1] pts, int64_t nominal):
    """interpolate_durations(pts, nominal) -> (durations, failed_index or -1)."""
    out = np.empty(pts.shape[0], dtype=np.int64)
    cdef int64_t[::1] out_view = out
    cdef Py_ssize_t failed
    with nogil:
        failed = _interpolate_durations(pts, out_view, nominal)
    return out, failed


@cython.boundscheck(False)  # every index is in [0, n) by construction
@cython.wraparound(False)  # no negative indices
cdef Py_ssize_t _fill_missing(const int64_t[::1] pts, int64_t[::1] out, int64_t nominal) noexcept nogil:
    # Returns -1 when done, n when there is no known PTS, else the index that overflowed.
    cdef Py_ssize_t i, n = pts.shape[0], known = -1
    cdef int64_t step
    for i in range(n):
        if pts[i] != NONE:
            known = i
            break
    if known < 0:
        return n if n > 0 else -1
    # Before the first known PTS: count back from it.
    for i in range(known):
        if px_mul(<int64_t>(known - i), nominal, &step) or px_sub(pts[known], step, &out[i]):
            return i
        if out[i] == NONE:
            return i
    for i in range(known, n):
        if pts[i] != NONE:
            out[i] = pts[i]
            known = i
        elif px_mul(<int64_t>(i - known), nominal, &step) or px_add(pts[known], step, &out[i]):
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
    int64_t pts, int64_t n_samples, int64_t chunk, int64_t rate,
    int64_t[::1] starts, int64_t[::1] durations,
) noexcept nogil:
    cdef Py_ssize_t k, count = starts.shape[0]
    cdef int64_t position, end
    cdef px_scaler scaler = px_scaler_make(SECOND, rate)  # caller checked px_scaler_fits
    if px_scaler_apply(&scaler, n_samples, pts, &end) != PX_OK:
        return count
    for k in range(count):
        position = k * chunk  # <= n_samples, no overflow
        if px_scaler_apply(&scaler, position, pts, &starts[k]) != PX_OK:
            return k
    for k in range(count - 1):
        durations[k] = starts[k + 1] - starts[k]  # both within [pts, end]: no overflow
    if count > 0:
        durations[count - 1] = end - starts[count - 1]
    return -1


def split_pts(int64_t pts, int64_t n_samples, int64_t chunk, int64_t rate):
    """split_pts(pts, n_samples, chunk, rate) -> (starts, durations, failed_index or -1)."""
    cdef Py_ssize_t count = (n_samples + chunk - 1) // chunk
    starts = np.empty(count, dtype=np.int64)
    durations = np.empty(count, dtype=np.int64)
    cdef int64_t[::1] starts_view = starts
    cdef int64_t[::1] durations_view = durations
    cdef Py_ssize_t failed
    if not px_scaler_fits(SECOND, rate):
        raise OverflowError(f"rate={rate} is too large for exact sample timing")
    with nogil:
        failed = _split(pts, n_samples, chunk, rate, starts_view, durations_view)
    return starts, durations, failed
