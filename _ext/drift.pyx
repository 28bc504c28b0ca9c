# Clock drift estimation: a robust sliding-window regression between two clocks
# (DriftEstimator), a delay-locked loop for period timestamps (TimeDLL), and a batch sliding
# regression over whole arrays (sliding_regression).
#
# Each class holds one C struct; the work is done by `noexcept nogil` kernels on that struct
# that return a status, and the `def` methods beside them convert and check arguments and raise.
# Single-observation calls (add, to_remote, update) run their kernel with the GIL held: the
# kernel takes tens of nanoseconds, less than one GIL round trip, and the GIL then serializes
# callers for free. The batch calls (add_many, update_many, sliding_regression) release it.
# A per-object lock keeps a batch call in one thread from racing a call from another.
#
# Numerics (DriftEstimator): observations are kept relative to a reference observation of
# the window, as GStreamer subtracts the window minima, so nothing is lost at 2^62 ns:
#     x = local - ref_local,   y = (remote - local) - (ref_remote - ref_local)
# and the fit is y = offset drift, slope = rate - 1 (ppm / 1e6). The sums over the window
# (n, Sx, Sy, Sxx, Sxy, Syy) are exact 128-bit integers: x and y are kept below 2^41
# (rebasing x when it grows; a larger y is a discontinuity) and the window below 2^16 points,
# so every product and n * S fits 2^127. Exact sums make the sliding window exact: a point
# that leaves is subtracted with no rounding left behind, however long the estimator runs,
# and the slope (n Sxy - Sx Sy) / (n Sxx - Sx^2) is two exact integers divided once, in
# double (relative error 1e-16, i.e. 1e-10 ppm). Mapping a time only multiplies a local
# difference by the small slope, so doubles there cost well under a nanosecond.
cimport cython
from cpython.pythread cimport (
    NOWAIT_LOCK,
    WAIT_LOCK,
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_free_lock,
    PyThread_release_lock,
    PyThread_type_lock,
)
from libc.math cimport INFINITY, NAN, exp, fabs, floor, isfinite, llround, pi, sqrt
from libc.stdint cimport INT64_MAX, INT64_MIN, int8_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc

import enum

import numpy as np

from timescale cimport px_sub


cdef extern from "timescale.h" nogil:
    # Really `__int128`; Cython only needs the name, the C compiler sees the real typedef.
    ctypedef long long px_i128


cdef int64_t SECOND = 1_000_000_000
cdef int64_t X_REBASE = 1LL << 40  # rebase when x reaches 2^40 ns (18 min)
cdef int64_t Y_LIMIT = 1LL << 41  # |y| >= 2^41 ns cannot enter the exact sums
cdef Py_ssize_t MAX_POINTS = 1 << 16  # n * S must fit 2^127 (see the header comment)
cdef Py_ssize_t MIN_FIT = 8  # points before the first robust refit; no gating before it
cdef double MAD_TO_SIGMA = 1.4826  # sigma of a normal distribution = 1.4826 * MAD

# add() results; DriftStatus below gives them names.
cdef enum:
    ACCEPTED = 0
    OUTLIER = 1
    DISCONTINUITY = 2
    NON_MONOTONIC = -1


class DriftStatus(enum.IntEnum):
    """What `DriftEstimator.add` did with an observation."""

    ACCEPTED = 0
    """The observation entered the fit."""
    OUTLIER = 1
    """Rejected as an outlier (late observation); the estimate did not move."""
    DISCONTINUITY = 2
    """A clock jump was confirmed: the window restarted from the observations after it."""


cdef tuple _STATUS = (DriftStatus.ACCEPTED, DriftStatus.OUTLIER, DriftStatus.DISCONTINUITY)


cdef extern from "Python.h":
    long long PyLong_AsLongLongAndOverflow(object value, int *overflow) except? -1


cdef inline int64_t _as_int64(object value, str name) except? -1:
    # Times are int ns; floats (NaN, inf, 1.5) are refused here so they never reach the math.
    cdef int overflow = 0
    cdef long long result
    if type(value) is not int:
        if isinstance(value, (bool, float)) or not hasattr(value, "__index__"):
            raise TypeError(f"{name} must be an int (nanoseconds), not {type(value).__name__}")
        value = value.__index__()
    result = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow:
        raise OverflowError(f"{name}={value} does not fit a signed 64-bit integer")
    return result


cdef inline void _lock(PyThread_type_lock lock):
    if not PyThread_acquire_lock(lock, NOWAIT_LOCK):
        with nogil:
            PyThread_acquire_lock(lock, WAIT_LOCK)


cdef class _Guarded:
    # Thread safety without a lock on the fast path. Single-observation calls hold the GIL
    # for their whole (short) run, so they exclude each other. A batch call takes `lock`,
    # sets `busy` (with the GIL), then releases the GIL for its kernel; a single call that
    # finds `busy` set waits on the lock (without the GIL) before it touches the state.
    cdef PyThread_type_lock lock
    cdef int busy
    cdef bint ready  # __init__ ran

    def __cinit__(self, *args, **kwargs):
        self.lock = PyThread_allocate_lock()
        if self.lock == NULL:
            raise MemoryError()

    def __dealloc__(self):
        if self.lock != NULL:
            PyThread_free_lock(self.lock)

    cdef inline int _check(self) except -1:
        if not self.ready:
            raise RuntimeError(f"{type(self).__name__}.__init__ was not called")
        while self.busy:
            with nogil:
                PyThread_acquire_lock(self.lock, WAIT_LOCK)
                PyThread_release_lock(self.lock)
        return 0

    cdef inline int _begin_batch(self) except -1:
        self._check()
        _lock(self.lock)
        self.busy = 1
        return 0

    cdef inline void _end_batch(self) noexcept:
        self.busy = 0
        PyThread_release_lock(self.lock)


# ---------------------------------------------------------------------------------------------
# DriftEstimator kernels


cdef struct Window:
    # ring buffer of observations, oldest at `head`
    int64_t *local
    int64_t *remote
    int64_t *x  # local - ref_local: 0 <= x < 2^41
    int64_t *y  # remote - local - ref_offset, clamped to +-2^62 (only |y| < 2^41 can be in)
    uint8_t *accepted  # 1: in the sums, 0: rejected (outlier or unconfirmed jump)
    double *scratch  # |residuals| for the median
    Py_ssize_t cap, head, count
    # settings
    int64_t max_span, outlier_floor, jump
    double outlier_k
    int confirm
    # reference observation: x = local - ref_local, y = remote - local - ref_offset
    int64_t ref_local
    px_i128 ref_offset
    # exact sums over accepted points
    int64_t n
    px_i128 sx, sy, sxx, sxy, syy
    # fit: y = ybar + slope * (x - xbar); calibrated when n >= 2 and the x differ
    bint calibrated
    double slope, xbar, ybar
    double sxx_c  # sum of (x - xbar)^2
    double sigma  # robust residual scale 1.4826 * MAD from the last refit; < 0 before it
    Py_ssize_t since_refit, rejected_since_refit
    # discontinuity detection: consecutive observations beyond `jump` from the fit
    int suspects
    double suspect_r
    # counters and the newest observation
    bint started
    int64_t last_local
    int64_t observations, outliers, discontinuities


cdef inline Py_ssize_t _slot(Window *w, Py_ssize_t i) noexcept nogil:
    # ring index of the i-th oldest point, 0 <= i < count
    i += w.head
    return i - w.cap if i >= w.cap else i


cdef inline int64_t _y_of(Window *w, int64_t local, int64_t remote) noexcept nogil:
    # exact in 128 bits, then clamped: the clamp only matters for values never accepted
    cdef px_i128 y = (<px_i128>remote - <px_i128>local) - w.ref_offset
    if y > (1LL << 62):
        return 1LL << 62
    if y < -(1LL << 62):
        return -(1LL << 62)
    return <int64_t>y


cdef inline bint _in_range(int64_t y) noexcept nogil:
    return -Y_LIMIT < y < Y_LIMIT


cdef inline double _f(px_i128 v) noexcept nogil:
    # int128 -> double in two exact halves (libgcc's __floattidf is a slow call); at most
    # one extra rounding, 1e-16 relative
    return <double>(<int64_t>(v >> 64)) * 18446744073709551616.0 + <double>(<uint64_t>v)


cdef inline void _sums_clear(Window *w) noexcept nogil:
    w.n = 0
    w.sx = 0
    w.sy = 0
    w.sxx = 0
    w.sxy = 0
    w.syy = 0


cdef inline void _sums_add(Window *w, int64_t x, int64_t y) noexcept nogil:
    # exact: |x|, |y| < 2^41 and n < 2^16 by construction
    w.n += 1
    w.sx += x
    w.sy += y
    w.sxx += <px_i128>x * x
    w.sxy += <px_i128>x * y
    w.syy += <px_i128>y * y


cdef inline void _sums_remove(Window *w, int64_t x, int64_t y) noexcept nogil:
    w.n -= 1
    w.sx -= x
    w.sy -= y
    w.sxx -= <px_i128>x * x
    w.sxy -= <px_i128>x * y
    w.syy -= <px_i128>y * y


cdef void _fit(Window *w) noexcept nogil:
    cdef px_i128 dxx
    w.calibrated = False
    w.slope = 0.0  # before calibration predictions assume rate 1
    if w.n == 0:
        w.xbar = 0.0
        w.ybar = 0.0
        return
    w.xbar = <double>(<int64_t>w.sx) / w.n  # |Sx|, |Sy| < 2^57: exact in int64
    w.ybar = <double>(<int64_t>w.sy) / w.n
    if w.n < 2:
        return
    dxx = w.n * w.sxx - w.sx * w.sx  # exact, >= 0; 0 when every local time is the same
    if dxx <= 0:
        return
    w.sxx_c = _f(dxx)
    w.slope = _f(w.n * w.sxy - w.sx * w.sy) / w.sxx_c
    w.sxx_c /= w.n
    w.calibrated = True


cdef inline double _residual(Window *w, double x, double y) noexcept nogil:
    return y - (w.ybar + w.slope * (x - w.xbar))


cdef void _resum(Window *w) noexcept nogil:
    # Recompute the exact sums from the ring (after a rebase or a reclassification).
    cdef Py_ssize_t i, s
    _sums_clear(w)
    for i in range(w.count):
        s = _slot(w, i)
        if w.accepted[s]:
            if _in_range(w.y[s]):
                _sums_add(w, w.x[s], w.y[s])
            else:
                w.accepted[s] = 0
    _fit(w)


cdef void _rebase(Window *w, Py_ssize_t i) noexcept nogil:
    # Make the i-th oldest point the reference (it is within max_span <= 2^40 of the newest).
    cdef Py_ssize_t s = _slot(w, i)
    w.ref_local = w.local[s]
    w.ref_offset = <px_i128>w.remote[s] - <px_i128>w.local[s]
    for i in range(w.count):
        s = _slot(w, i)
        w.x[s] = w.local[s] - w.ref_local
        w.y[s] = _y_of(w, w.local[s], w.remote[s])
    _resum(w)


cdef void _restart(Window *w, Py_ssize_t keep) noexcept nogil:
    # Drop all but the `keep` newest points; they become the new window, all accepted.
    cdef Py_ssize_t i
    w.head = _slot(w, w.count - keep) if keep > 0 else 0
    w.count = keep
    for i in range(keep):
        w.accepted[_slot(w, i)] = 1
    w.sigma = -1.0
    w.since_refit = 0
    w.rejected_since_refit = 0
    w.suspects = 0
    if keep > 0:
        _rebase(w, 0)
    else:
        _sums_clear(w)
        _fit(w)


cdef void _push(Window *w, int64_t local, int64_t remote, uint8_t accepted) noexcept nogil:
    # Append; evict by count and by span first. An accepted point must have |y| < 2^41.
    cdef Py_ssize_t s
    cdef bint evicted = False
    while w.count > 0 and (
        w.count == w.cap
        or <uint64_t>local - <uint64_t>w.local[w.head] > <uint64_t>w.max_span
    ):
        s = w.head
        if w.accepted[s]:
            _sums_remove(w, w.x[s], w.y[s])
        w.head = _slot(w, 1)
        w.count -= 1
        evicted = True
    s = _slot(w, w.count)
    w.local[s] = local
    w.remote[s] = remote
    w.accepted[s] = accepted
    w.count += 1
    if w.count == 1:
        w.ref_local = local
        w.ref_offset = <px_i128>remote - <px_i128>local
        _sums_clear(w)
    elif <uint64_t>local - <uint64_t>w.ref_local >= <uint64_t>X_REBASE:
        _rebase(w, 0)  # recomputes x, y and the sums of every point, the new one too
        return
    w.x[s] = local - w.ref_local
    w.y[s] = _y_of(w, local, remote)
    if accepted:
        _sums_add(w, w.x[s], w.y[s])
    if accepted or evicted:
        _fit(w)


cdef Py_ssize_t _partition(double *a, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t k) noexcept nogil:
    # Hoare quickselect: a[k] ends up the k-th smallest of a[lo..hi]; returns k.
    cdef double pivot, t
    cdef Py_ssize_t i, j
    while lo < hi:
        pivot = a[(lo + hi) >> 1]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                t = a[i]
                a[i] = a[j]
                a[j] = t
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return k


cdef void _refit(Window *w) noexcept nogil:
    # Robust refit of the whole window: residuals against the fit, their median absolute
    # value (MAD), and every point within outlier_k * 1.4826 * MAD is in, the rest out.
    # When that changed which points are in, the sums are recomputed and it runs once more
    # from the cleaner fit (at most three rounds).
    cdef Py_ssize_t i, s, m
    cdef double threshold
    cdef uint8_t keep
    cdef int rounds
    cdef bint changed
    for rounds in range(3):
        if not w.calibrated:
            break
        m = w.count
        for i in range(m):
            s = _slot(w, i)
            w.scratch[i] = fabs(_residual(w, <double>w.x[s], <double>w.y[s]))
        _partition(w.scratch, 0, m - 1, m >> 1)
        w.sigma = MAD_TO_SIGMA * w.scratch[m >> 1]
        threshold = w.outlier_k * w.sigma
        if threshold < w.outlier_floor:
            threshold = w.outlier_floor
        changed = False
        for i in range(m):
            s = _slot(w, i)
            keep = fabs(_residual(w, <double>w.x[s], <double>w.y[s])) <= threshold
            if keep != w.accepted[s]:
                w.accepted[s] = keep
                changed = True
        if not changed:
            break
        _resum(w)
    w.since_refit = 0
    w.rejected_since_refit = 0


cdef int _add(Window *w, int64_t local, int64_t remote) noexcept nogil:
    cdef double r, threshold, x
    cdef int64_t y
    cdef bint gating
    if w.started and local < w.last_local:
        return NON_MONOTONIC
    w.observations += 1
    w.since_refit += 1
    if w.started and <uint64_t>local - <uint64_t>w.last_local > <uint64_t>w.max_span:
        _restart(w, 0)  # a gap longer than the window: start afresh (not a jump)
    w.started = True
    w.last_local = local
    if w.count == 0:
        _push(w, local, remote, 1)
        return ACCEPTED

    x = <double>(<uint64_t>local - <uint64_t>w.ref_local)
    y = _y_of(w, local, remote)
    gating = w.calibrated and w.sigma >= 0.0 and w.n >= MIN_FIT
    r = _residual(w, x, <double>y)
    if gating and fabs(r) > w.jump:
        # Beyond the jump threshold: an outlier unless the next ones agree (a clock step).
        if w.suspects > 0 and fabs(r - w.suspect_r) <= w.jump:
            w.suspects += 1
        else:
            w.suspects = 1
            w.suspect_r = r
        _push(w, local, remote, 0)
        if w.suspects >= w.confirm:
            w.discontinuities += 1
            _restart(w, w.suspects)
            return DISCONTINUITY
        w.outliers += 1
        return OUTLIER
    w.suspects = 0
    if gating:
        # The gate widens by the prediction's standard error relative to the residuals':
        # sqrt(1 + 1/n + (x - xbar)^2 / Sxx) for a new point, (n - 2) / n for the residuals.
        # (Compared squared: no square root on the hot path.)
        x -= w.xbar
        threshold = w.outlier_k * w.sigma
        threshold = threshold * threshold * (
            (1.0 + 1.0 / w.n + x * x / w.sxx_c) * w.n / (w.n - 2.0)
        )
        if threshold < <double>w.outlier_floor * w.outlier_floor:
            threshold = <double>w.outlier_floor * w.outlier_floor
        if r * r > threshold:
            _push(w, local, remote, 0)
            w.outliers += 1
            w.rejected_since_refit += 1
            if w.rejected_since_refit >= MIN_FIT and w.rejected_since_refit * 8 > w.since_refit:
                _refit(w)  # more than 1 in 8 rejected: the jitter grew, re-measure it
            return OUTLIER
    if not _in_range(y):
        # Offset moved by more than 2^41 ns (36 min) before gating could see it: a step.
        w.discontinuities += 1
        _restart(w, 0)
        _push(w, local, remote, 1)
        return DISCONTINUITY
    _push(w, local, remote, 1)
    if w.n >= MIN_FIT and w.since_refit >= max(MIN_FIT, w.count):
        _refit(w)  # O(window) once per window of additions: amortized O(1)
    return ACCEPTED


cdef inline bint _to_remote(Window *w, int64_t local, int64_t *out) noexcept nogil:
    cdef double x = <double>(<px_i128>local - w.ref_local)
    cdef double offset = w.ybar + w.slope * (x - w.xbar)
    cdef px_i128 result
    if not (fabs(offset) < 9.0e18):
        return False
    result = <px_i128>local + w.ref_offset + llround(offset)
    if result > INT64_MAX or result < INT64_MIN:
        return False
    out[0] = <int64_t>result
    return True


cdef inline bint _to_local(Window *w, int64_t remote, int64_t *out) noexcept nogil:
    # remote = local + ref_offset + offset(x), offset(x) = ybar + slope * (x - xbar).
    # With R = remote - ref_local - ref_offset = x + offset(x), solve for the small offset:
    # offset = (ybar + slope * (R - xbar)) / (1 + slope), then local = remote - ... exactly.
    cdef px_i128 big_r = <px_i128>remote - w.ref_local - w.ref_offset
    cdef double offset
    cdef px_i128 result
    if not (1.0 + w.slope > 0.0):
        return False
    offset = (w.ybar + w.slope * (<double>big_r - w.xbar)) / (1.0 + w.slope)
    if not (fabs(offset) < 9.0e18):
        return False
    result = <px_i128>remote - w.ref_offset - llround(offset)
    if result > INT64_MAX or result < INT64_MIN:
        return False
    out[0] = <int64_t>result
    return True


cdef double _r_squared(Window *w) noexcept nogil:
    # Coefficient of determination of remote against local (GStreamer's r_squared), from
    # the exact sums: remote - const = x + y, so SStot = Dxx + 2 Dxy + Dyy (each times n).
    cdef px_i128 dxx = w.n * w.sxx - w.sx * w.sx
    cdef px_i128 dxy = w.n * w.sxy - w.sx * w.sy
    cdef px_i128 dyy = w.n * w.syy - w.sy * w.sy
    cdef px_i128 dtot = dxx + 2 * dxy + dyy
    cdef double ddxy = <double>dxy
    cdef double ss_res = <double>dyy - ddxy * ddxy / <double>dxx  # dxx > 0: calibrated
    if ss_res < 0.0:
        ss_res = 0.0
    if dtot <= 0:
        return 1.0  # remote constant: the line fits exactly
    return 1.0 - ss_res / <double>dtot


@cython.boundscheck(False)  # i < n == len(local) == len(remote) == len(out), checked by caller
@cython.wraparound(False)  # no negative indices
cdef void _add_array(
    Window *w, const int64_t[::1] local, const int64_t[::1] remote, int8_t[::1] out
) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(local.shape[0]):
        out[i] = <int8_t>_add(w, local[i], remote[i])


@cython.boundscheck(False)  # i < n == len(local), by construction
@cython.wraparound(False)  # no negative indices
cdef Py_ssize_t _first_decrease(
    const int64_t[::1] local, bint started, int64_t last
) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(local.shape[0]):
        if started and local[i] < last:
            return i
        started = True
        last = local[i]
    return -1


cdef class DriftEstimator(_Guarded):
    """DriftEstimator(max_points=1024, max_span_ns=120 * SECOND, outlier_k=5.0, \
outlier_floor_ns=1000, jump_ns=20 * MSECOND, jump_confirm=3)

    Rate and offset between a local and a remote clock from (local_ns, remote_ns) pairs.

    See `parallax.drift` for the model, the window, the outlier rule and the errors.

    Parameters
    ----------
    max_points : int
        Window capacity in observations, 2 .. 65536.
    max_span_ns : int
        Longest local time span of the window, ns, at most 2**40 (18 min).
    outlier_k : float
        Reject points beyond ``outlier_k`` robust sigmas (1.4826 * MAD) of the fit.
    outlier_floor_ns : int
        Never reject a residual below this, ns.
    jump_ns : int
        A point this far off the fit (ns) is a suspected clock step.
    jump_confirm : int
        Consecutive agreeing suspects that confirm a step and restart the window.

    Raises
    ------
    TypeError, ValueError
        A parameter of the wrong type or out of range (the message names it).

    Notes
    -----
    Methods: ``add(local_ns, remote_ns) -> DriftStatus``; ``add_many(local, remote)`` for
    int64 arrays (statuses as int8, GIL released); ``to_remote(local_ns)`` and
    ``to_local(remote_ns)`` -> int ns or None before calibration; ``reset()``.
    Properties: ``calibrated``, ``rate``, ``ppm``, ``offset_ns`` (remote - local at the
    newest observation), ``r_squared``, ``jitter_ns``, ``count``, ``accepted``, ``span_ns``,
    ``observations``, ``outliers``, ``discontinuities``.
    """

    cdef Window w

    def __init__(
        self,
        max_points=1024,
        max_span_ns=120 * SECOND,
        outlier_k=5.0,
        outlier_floor_ns=1000,
        jump_ns=20_000_000,
        jump_confirm=3,
    ):
        cdef int64_t points = _as_int64(max_points, "max_points")
        cdef int64_t span = _as_int64(max_span_ns, "max_span_ns")
        cdef int64_t floor_ns = _as_int64(outlier_floor_ns, "outlier_floor_ns")
        cdef int64_t jump = _as_int64(jump_ns, "jump_ns")
        cdef int64_t confirm = _as_int64(jump_confirm, "jump_confirm")
        if not 2 <= points <= MAX_POINTS:
            raise ValueError(f"max_points must be in [2, {MAX_POINTS}], got {max_points}")
        if not 0 < span <= X_REBASE:
            raise ValueError(f"max_span_ns must be in (0, 2**40] ns (18 min), got {max_span_ns}")
        if isinstance(outlier_k, bool) or not isinstance(outlier_k, (int, float)):
            raise TypeError(f"outlier_k must be a number, not {type(outlier_k).__name__}")
        if not (isfinite(outlier_k) and outlier_k > 0):
            raise ValueError(f"outlier_k must be finite and > 0, got {outlier_k}")
        if floor_ns < 0:
            raise ValueError(f"outlier_floor_ns must be >= 0, got {outlier_floor_ns}")
        if not 0 < jump < Y_LIMIT:
            raise ValueError(f"jump_ns must be in (0, 2**41) ns, got {jump_ns}")
        if not 1 <= confirm <= min(points, 64):
            raise ValueError(f"jump_confirm must be in [1, min(max_points, 64)], got {jump_confirm}")
        if self.ready:
            self._begin_batch()  # __init__ called again: wait for any batch call
            self._end_batch()
        self.ready = False
        self._free()
        self.w.cap = points
        self.w.local = <int64_t *>malloc(points * sizeof(int64_t))
        self.w.remote = <int64_t *>malloc(points * sizeof(int64_t))
        self.w.x = <int64_t *>malloc(points * sizeof(int64_t))
        self.w.y = <int64_t *>malloc(points * sizeof(int64_t))
        self.w.accepted = <uint8_t *>malloc(points * sizeof(uint8_t))
        self.w.scratch = <double *>malloc(points * sizeof(double))
        if not (
            self.w.local and self.w.remote and self.w.x and self.w.y and self.w.accepted
            and self.w.scratch
        ):
            self._free()
            raise MemoryError()
        self.w.max_span = span
        self.w.outlier_k = outlier_k
        self.w.outlier_floor = floor_ns
        self.w.jump = jump
        self.w.confirm = <int>confirm
        self._clear()
        self.ready = True

    cdef void _free(self) noexcept:
        free(self.w.local)
        free(self.w.remote)
        free(self.w.x)
        free(self.w.y)
        free(self.w.accepted)
        free(self.w.scratch)
        self.w.local = NULL
        self.w.remote = NULL
        self.w.x = NULL
        self.w.y = NULL
        self.w.accepted = NULL
        self.w.scratch = NULL
        self.w.cap = 0

    cdef void _clear(self) noexcept:
        self.w.head = 0
        self.w.count = 0
        self.w.started = False
        self.w.last_local = 0
        self.w.observations = 0
        self.w.outliers = 0
        self.w.discontinuities = 0
        _restart(&self.w, 0)

    def __dealloc__(self):
        self._free()

    def reset(self):
        """reset() -> None: forget every observation and counter."""
        self._check()
        self._clear()

    def add(self, local_ns, remote_ns):
        """add(local_ns, remote_ns) -> DriftStatus: feed one observation pair (int ns)."""
        cdef int64_t local = _as_int64(local_ns, "local_ns")
        cdef int64_t remote = _as_int64(remote_ns, "remote_ns")
        cdef int status
        self._check()
        status = _add(&self.w, local, remote)
        if status == NON_MONOTONIC:
            raise ValueError(
                f"local_ns={local} is before the previous observation's local_ns="
                f"{self.w.last_local}: local times must not decrease"
            )
        return _STATUS[status]

    def add_many(self, const int64_t[::1] local_ns, const int64_t[::1] remote_ns):
        """add_many(local_ns, remote_ns) -> int8 array of DriftStatus values (GIL released)."""
        cdef Py_ssize_t n = local_ns.shape[0], bad
        if remote_ns.shape[0] != n:
            raise ValueError(
                f"local_ns and remote_ns must have the same length, got {n} and "
                f"{remote_ns.shape[0]}"
            )
        out = np.empty(n, dtype=np.int8)
        cdef int8_t[::1] out_view = out
        cdef int64_t last = self.w.last_local
        self._begin_batch()
        try:
            last = self.w.last_local
            with nogil:
                bad = _first_decrease(local_ns, self.w.started, last)
                if bad < 0:
                    _add_array(&self.w, local_ns, remote_ns, out_view)
        finally:
            self._end_batch()
        if bad >= 0:
            before = local_ns[bad - 1] if bad > 0 else last
            raise ValueError(
                f"local_ns[{bad}]={local_ns[bad]} is before the previous local_ns={before}: "
                "local times must not decrease (nothing was added)"
            )
        return out

    def to_remote(self, local_ns):
        """to_remote(local_ns) -> int | None: the remote time at a local time (ns)."""
        cdef int64_t local = _as_int64(local_ns, "local_ns")
        cdef int64_t out
        self._check()
        if not self.w.calibrated:
            return None
        if not _to_remote(&self.w, local, &out):
            raise OverflowError(f"to_remote({local_ns}) does not fit int64 nanoseconds")
        return out

    def to_local(self, remote_ns):
        """to_local(remote_ns) -> int | None: the local time at a remote time (ns)."""
        cdef int64_t remote = _as_int64(remote_ns, "remote_ns")
        cdef int64_t out
        self._check()
        if not self.w.calibrated or not (1.0 + self.w.slope > 0.0):
            return None
        if not _to_local(&self.w, remote, &out):
            raise OverflowError(f"to_local({remote_ns}) does not fit int64 nanoseconds")
        return out

    @property
    def calibrated(self):
        """bool: at least 2 accepted observations at different local times."""
        self._check()
        return self.w.calibrated

    @property
    def rate(self):
        """float | None: remote ns per local ns (1 + ppm / 1e6)."""
        self._check()
        return 1.0 + self.w.slope if self.w.calibrated else None

    @property
    def ppm(self):
        """float | None: (rate - 1) * 1e6, computed without the cancellation of rate - 1."""
        self._check()
        return self.w.slope * 1e6 if self.w.calibrated else None

    @property
    def offset_ns(self):
        """int | None: fitted remote - local at the newest observation's local time."""
        cdef int64_t out
        self._check()
        if not self.w.calibrated or not _to_remote(&self.w, self.w.last_local, &out):
            return None
        return <object>out - <object>self.w.last_local

    @property
    def r_squared(self):
        """float | None: coefficient of determination of remote against local."""
        self._check()
        return _r_squared(&self.w) if self.w.calibrated else None

    @property
    def jitter_ns(self):
        """float | None: robust residual sigma (1.4826 * MAD) from the last robust refit."""
        self._check()
        return self.w.sigma if self.w.sigma >= 0.0 else None

    @property
    def count(self):
        """int: observations in the window (accepted and rejected)."""
        self._check()
        return self.w.count

    @property
    def accepted(self):
        """int: observations in the fit."""
        self._check()
        return self.w.n

    @property
    def span_ns(self):
        """int: local time from the oldest to the newest observation in the window."""
        self._check()
        if self.w.count == 0:
            return 0
        return (
            <object>self.w.local[_slot(&self.w, self.w.count - 1)]
            - <object>self.w.local[self.w.head]
        )

    @property
    def observations(self):
        """int: observations added since construction or reset()."""
        self._check()
        return self.w.observations

    @property
    def outliers(self):
        """int: observations rejected when added (outliers and unconfirmed jumps)."""
        self._check()
        return self.w.outliers

    @property
    def discontinuities(self):
        """int: confirmed clock jumps (each restarted the window)."""
        self._check()
        return self.w.discontinuities

    @property
    def max_points(self):
        """int: the window's capacity in observations."""
        return self.w.cap

    @property
    def max_span_ns(self):
        """int: the window's longest local time span."""
        return self.w.max_span

    def __repr__(self):
        if not self.calibrated:
            return f"<DriftEstimator not calibrated, {self.w.count} observations>"
        return (
            f"<DriftEstimator {self.ppm:+.4f} ppm, offset {self.offset_ns} ns, "
            f"{self.w.n}/{self.w.count} observations over {self.span_ns / 1e9:.3f} s>"
        )


# ---------------------------------------------------------------------------------------------
# TimeDLL: the second-order delay-locked loop of Fons Adriaensen, "Using a DLL to filter time"
# (2005), as in JACK:
#     e = t_measured - t1;  t0 = t1;  t1 += b * e + e2;  e2 += c * e
# with w = 2 pi B T (B the loop bandwidth in Hz, T the nominal period), b = sqrt(2) w,
# c = w^2 (critically damped). t0 is the filtered time of the current period, t1 the
# prediction of the next, e2 the filtered period. Times are kept as an int64 base plus
# doubles below one period, so 2^62 ns loses nothing.
#
# Bandwidth as PipeWire's spa_dll use in alsa-pcm: start wide (lock fast), halve every
# hold_ns until the narrow bandwidth (hold with little jitter). It widens again when the
# innovations keep one sign (the mean error over ~2 s is beyond 5 standard errors): the rate
# changed and the narrow loop would take tens of seconds to follow.


cdef struct Dll:
    double period  # nominal period, ns
    double bw, bw_max, bw_min, b, c
    int64_t hold, max_error
    bint started
    int64_t base  # t0, t1 are relative to base
    double t0, t1, e2
    int64_t last_change  # measured time of the last bandwidth change
    double mean, var, alpha  # innovation statistics for the relock test
    double last_error
    int64_t count, resets


cdef double RELOCK_SIGMA = 5.0
cdef double RELOCK_TAU = 2.0 * SECOND  # time constant of the innovation averages


cdef void _dll_set_bw(Dll *d, double bw) noexcept nogil:
    cdef double w = 2.0 * pi * bw * d.period / SECOND
    d.bw = bw
    d.b = sqrt(2.0) * w
    d.c = w * w


cdef void _dll_start(Dll *d, int64_t time) noexcept nogil:
    d.started = True
    d.base = time
    d.t0 = 0.0
    d.e2 = d.period
    d.t1 = d.period
    d.last_change = time
    d.mean = 0.0
    d.var = -1.0  # unknown until the first error
    d.last_error = 0.0
    _dll_set_bw(d, d.bw_max)


cdef int64_t _dll_update(Dll *d, int64_t time) noexcept nogil:
    # Returns the filtered time of this period, ns.
    cdef int64_t rel, shift
    cdef double e, limit
    d.count += 1
    if not d.started or px_sub(time, d.base, &rel):
        _dll_start(d, time)
        return time
    e = <double>rel - d.t1
    if not (fabs(e) <= d.max_error):  # lost periods, a stall or a clock step: relock
        d.resets += 1
        _dll_start(d, time)
        return time
    d.last_error = e
    d.t0 = d.t1
    d.t1 += d.b * e + d.e2
    d.e2 += d.c * e
    # keep the doubles small: move whole nanoseconds of t0 into the integer base
    shift = <int64_t>floor(d.t0)
    d.base += shift
    d.t0 -= shift
    d.t1 -= shift

    if d.var < 0.0:
        d.var = e * e
    d.mean += d.alpha * (e - d.mean)
    d.var += d.alpha * (e * e - d.var)
    if d.bw > d.bw_min and time - d.last_change >= d.hold:
        _dll_set_bw(d, max(d.bw * 0.5, d.bw_min))
        d.last_change = time
    elif d.bw < d.bw_max and time - d.last_change >= 3 * RELOCK_TAU:
        limit = RELOCK_SIGMA * sqrt(d.var * d.alpha / (2.0 - d.alpha))
        if fabs(d.mean) > limit:
            _dll_set_bw(d, d.bw_max)
            d.last_change = time
            d.mean = 0.0
    return d.base + llround(d.t0)


@cython.boundscheck(False)  # i < n == len(times) == len(out), checked by caller
@cython.wraparound(False)  # no negative indices
cdef void _dll_update_array(Dll *d, const int64_t[::1] times, int64_t[::1] out) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(times.shape[0]):
        out[i] = _dll_update(d, times[i])


cdef class TimeDLL(_Guarded):
    """TimeDLL(period_ns, bandwidth_max=0.128, bandwidth_min=0.025, hold_ns=3 * SECOND, \
max_error_ns=None)

    Smooth a stream of period timestamps with a second-order delay-locked loop.

    See `parallax.drift` for the loop, its bandwidth schedule and the errors.

    Parameters
    ----------
    period_ns : float
        Nominal period, ns (1024 frames at 48 kHz: ``1024 * 1e9 / 48000``).
    bandwidth_max : float
        Loop bandwidth to lock with, Hz (below ``0.1 / period``).
    bandwidth_min : float
        Loop bandwidth to hold with, Hz.
    hold_ns : int
        Time between halvings of the bandwidth, ns.
    max_error_ns : float or None
        An error beyond this restarts the loop; default one period.

    Notes
    -----
    ``update(time_ns) -> int``: the filtered time of the period whose start was measured at
    ``time_ns`` (ns, any one clock, e.g. MONOTONIC); ``update_many(times)`` for an int64
    array (GIL released); ``reset()``. Properties: ``period_ns`` (filtered), ``ratio``
    (filtered / nominal period), ``next_ns``, ``bandwidth``, ``error_ns``, ``count``,
    ``resets``.
    """

    cdef Dll d

    def __init__(
        self,
        period_ns,
        bandwidth_max=0.128,
        bandwidth_min=0.025,
        hold_ns=3 * SECOND,
        max_error_ns=None,
    ):
        cdef double period = _positive(period_ns, "period_ns")
        cdef double bw_max = _positive(bandwidth_max, "bandwidth_max")
        cdef double bw_min = _positive(bandwidth_min, "bandwidth_min")
        cdef int64_t hold = _as_int64(hold_ns, "hold_ns")
        cdef double max_error
        if bw_min > bw_max:
            raise ValueError(
                f"bandwidth_min={bandwidth_min} must not exceed bandwidth_max={bandwidth_max}"
            )
        if bw_max * period / SECOND > 0.1:
            raise ValueError(
                f"bandwidth_max={bandwidth_max} Hz is too wide for a {period_ns} ns period: "
                f"keep it below 0.1 / period ({0.1 * SECOND / period:.3g} Hz)"
            )
        if hold <= 0:
            raise ValueError(f"hold_ns must be > 0, got {hold_ns}")
        max_error = period if max_error_ns is None else _positive(max_error_ns, "max_error_ns")
        if self.ready:
            self._begin_batch()  # __init__ called again: wait for any batch call
            self._end_batch()
        self.d.period = period
        self.d.bw_max = bw_max
        self.d.bw_min = bw_min
        self.d.hold = hold
        self.d.max_error = <int64_t>max_error
        self.d.alpha = min(1.0, period / RELOCK_TAU)
        self.d.started = False
        self.d.count = 0
        self.d.resets = 0
        _dll_set_bw(&self.d, bw_max)
        self.ready = True

    def reset(self):
        """reset() -> None: forget the lock; the next update starts afresh."""
        self._check()
        self.d.started = False
        _dll_set_bw(&self.d, self.d.bw_max)

    def update(self, time_ns):
        """update(time_ns) -> int: filtered time (ns) of the period measured at time_ns."""
        cdef int64_t time = _as_int64(time_ns, "time_ns")
        self._check()
        return _dll_update(&self.d, time)

    def update_many(self, const int64_t[::1] times_ns):
        """update_many(times_ns) -> int64 array of filtered times (GIL released)."""
        out = np.empty(times_ns.shape[0], dtype=np.int64)
        cdef int64_t[::1] out_view = out
        self._begin_batch()
        try:
            with nogil:
                _dll_update_array(&self.d, times_ns, out_view)
        finally:
            self._end_batch()
        return out

    @property
    def period_ns(self):
        """float: filtered period, ns (the nominal period before the first update)."""
        self._check()
        return self.d.e2 if self.d.started else self.d.period

    @property
    def ratio(self):
        """float: filtered / nominal period (> 1: the device clock runs slow)."""
        self._check()
        return (self.d.e2 if self.d.started else self.d.period) / self.d.period

    @property
    def next_ns(self):
        """int | None: predicted time of the next period, ns."""
        self._check()
        if not self.d.started:
            return None
        return <object>self.d.base + llround(self.d.t1)

    @property
    def bandwidth(self):
        """float: current loop bandwidth, Hz."""
        self._check()
        return self.d.bw

    @property
    def error_ns(self):
        """float: the last measured - predicted time, ns."""
        self._check()
        return self.d.last_error

    @property
    def count(self):
        """int: updates since construction."""
        self._check()
        return self.d.count

    @property
    def resets(self):
        """int: times the loop restarted because an error exceeded max_error_ns."""
        self._check()
        return self.d.resets

    def __repr__(self):
        return (
            f"<TimeDLL period {self.period_ns:.3f} ns (ratio {self.ratio:.9f}), "
            f"bandwidth {self.d.bw:.4g} Hz>"
        )


cdef double _positive(object value, str name) except? -1.0:
    cdef double v
    if isinstance(value, bool) or not hasattr(value, "__float__"):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    v = float(value)
    if not (isfinite(v) and v > 0.0):
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return v


# ---------------------------------------------------------------------------------------------
# sliding_regression: least-squares line per window position over whole arrays.
#
# Per block of 8 * window positions, prefix sums of dx, dy, dx^2, dx*dy are built relative to
# the block's first point (dx = x - x_ref, exact for int64), and each window's sums are
# differences of two prefixes: the windows are independent, so the CPU pipelines (and the
# compiler vectorizes) them, and no rounding carries from one block to the next. A short
# block keeps the prefixes within ~1e3 of a window's own sums: ~1e-13 relative error.
# Windows whose x spread is tiny next to their distance from the reference are recomputed
# two-pass; windows whose x are all equal have no slope (NaN).

ctypedef fused number:
    int64_t
    double


@cython.boundscheck(False)  # j < i + window <= n by construction
@cython.wraparound(False)  # no negative indices
@cython.cdivision(True)  # divisors are window > 0 and denominators tested > 0 first
cdef void _window_two_pass(
    const number[::1] x, const number[::1] y, Py_ssize_t i, Py_ssize_t window,
    double *slope, double *intercept,
) noexcept nogil:
    cdef Py_ssize_t j
    cdef double mx = 0.0, my = 0.0, cxx = 0.0, cxy = 0.0, cx
    cdef bint same = True
    for j in range(i, i + window):
        same = same and x[j] == x[i]
        mx += <double>(x[j] - x[i])
        my += <double>(y[j] - y[i])
    if same:
        slope[0] = NAN
        intercept[0] = NAN
        return
    mx /= window
    my /= window
    for j in range(i, i + window):
        cx = <double>(x[j] - x[i]) - mx
        cxx += cx * cx
        cxy += cx * (<double>(y[j] - y[i]) - my)
    slope[0] = cxy / cxx
    intercept[0] = <double>y[i] + (my - slope[0] * mx)


cdef extern from "regression.h" nogil:
    bint px_block_windows(
        const double *psx, const double *psy, const double *psxx, const double *psxy,
        const double *dx, Py_ssize_t count, Py_ssize_t window, double y_ref,
        double *slope, double *intercept, unsigned char *degenerate,
    )
    bint px_spans_below_2_63(const int64_t *values, Py_ssize_t count)


@cython.boundscheck(False)  # every index is below start + block + window <= n + block
@cython.wraparound(False)  # no negative indices
@cython.cdivision(True)  # divisors are window > 0 and denominators tested > 0 first
cdef void _sliding(
    const number[::1] x, const number[::1] y, Py_ssize_t window,
    double[::1] slope, double[::1] intercept, double *scratch, Py_ssize_t block,
) noexcept nogil:
    # scratch: four prefix-sum arrays (sums of dx, dy, dx^2, dx*dy over the block's first k
    # points, k = 0 .. block + window - 1), the dx of each point, and one byte per window
    cdef Py_ssize_t stride = block + window
    cdef double *psx = scratch
    cdef double *psy = scratch + stride
    cdef double *psxx = scratch + 2 * stride
    cdef double *psxy = scratch + 3 * stride
    cdef double *dxs = scratch + 4 * stride
    cdef unsigned char *degenerate = <unsigned char *>(scratch + 5 * stride)
    cdef Py_ssize_t positions = x.shape[0] - window + 1
    cdef Py_ssize_t start, count, points, k, p
    cdef number xr, yr
    cdef double dx, dy, sx, sy, sxx, sxy
    start = 0
    while start < positions:
        count = min(block, positions - start)
        points = count + window - 1
        xr = x[start]
        yr = y[start]
        sx = sy = sxx = sxy = 0.0
        psx[0] = psy[0] = psxx[0] = psxy[0] = 0.0
        for k in range(points):
            dx = <double>(x[start + k] - xr)
            dy = <double>(y[start + k] - yr)
            dxs[k] = dx
            sx += dx
            sy += dy
            sxx += dx * dx
            sxy += dx * dy
            psx[k + 1] = sx
            psy[k + 1] = sy
            psxx[k + 1] = sxx
            psxy[k + 1] = sxy
        if px_block_windows(
            psx, psy, psxx, psxy, dxs, count, window, <double>yr,
            &slope[start], &intercept[start], degenerate,
        ):
            for k in range(count):
                if degenerate[k]:
                    p = start + k
                    _window_two_pass(x, y, p, window, &slope[p], &intercept[p])
        start += count


def sliding_regression_kernel(const number[::1] x, const number[::1] y, Py_ssize_t window):
    """sliding_regression_kernel(x, y, window) -> (slope, intercept); arguments checked by the
    caller except the span of int64 input: OverflowError("x" or "y") when an array spans
    2**63 or more, so that no difference the fit takes can overflow."""
    cdef Py_ssize_t positions = x.shape[0] - window + 1
    # one allocation for both results: two separately allocated large arrays share their
    # address modulo 4096, and the CPU then stalls on false store-to-load dependencies
    out = np.empty((2, positions), dtype=np.float64)
    slope = out[0]
    intercept = out[1]
    cdef double[::1] slope_view = slope
    cdef double[::1] intercept_view = intercept
    cdef Py_ssize_t block = 8 * window
    # 4 prefix arrays + dx, each block + window doubles, then one byte per window
    cdef double *scratch = <double *>malloc(
        5 * (block + window) * sizeof(double) + block * sizeof(unsigned char)
    )
    if scratch == NULL:
        raise MemoryError()
    cdef const char *too_wide = NULL
    try:
        with nogil:
            if number is int64_t:
                if not px_spans_below_2_63(&x[0], x.shape[0]):
                    too_wide = "x"
                elif not px_spans_below_2_63(&y[0], y.shape[0]):
                    too_wide = "y"
            if too_wide == NULL:
                _sliding(x, y, window, slope_view, intercept_view, scratch, block)
    finally:
        free(scratch)
    if too_wide != NULL:
        raise OverflowError(too_wide.decode())
    return slope, intercept
