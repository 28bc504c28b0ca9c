"""Clock drift: how fast one clock runs against another, and smoothing of period times.

Three tools, all in Cython:

`DriftEstimator`
    One per clock pair. Feed it observation pairs ``(local_ns, remote_ns)`` read as close
    together as possible (``local``: the clock you map from, e.g. ``CLOCK_MONOTONIC``;
    ``remote``: the other one, e.g. an ALSA device position converted to ns). It fits
    ``remote = local + offset + ppm * 1e-6 * (local - t)`` over a sliding window and maps
    times either way with `DriftEstimator.to_remote` and `DriftEstimator.to_local`.
`TimeDLL`
    A delay-locked loop that smooths a stream of period timestamps (one per audio period or
    video frame) into evenly advancing times that follow the device's true rate.
`sliding_regression`
    Least-squares slope and intercept over every window position of whole arrays, for
    analysis of recorded timestamps.

The estimator
-------------
**Numerics.** Every observation is kept relative to a reference observation in the window
(GStreamer subtracts the window's minima for the same reason), and the regression sums are
exact 128-bit integers, so times near ``2**62`` ns lose nothing and the sliding window never
accumulates rounding. The slope is regressed on ``remote - local``, so `ppm` carries no
cancellation (resolution about 1e-10 ppm).

**Window.** Observations leave the window when it holds ``max_points`` (default 1024) or
spans more than ``max_span_ns`` (default 120 s) of local time. Long windows matter: the
rate error of a least-squares fit is ``sigma * sqrt(12 / n) / T`` for jitter ``sigma`` and
``n`` points over ``T`` seconds, so GStreamer's 32 points at 10 Hz (3.2 s) give 60 times the
error of 600 points over 60 s. A local gap longer than ``max_span_ns`` starts afresh.

**Outliers.** A late observation (a scheduler hiccup between the two clock reads) must not
swing the estimate. Once the window holds 8 accepted points, each new point is compared with
the current fit; if its residual is beyond ``outlier_k`` (default 5) robust sigmas it is
rejected (`DriftStatus.OUTLIER`). The robust sigma is ``1.4826 * median(|residual|)`` (the
MAD rule) over the whole window. A robust refit recomputes it and reclassifies every point of
the window (a point rejected early can come back in, and the other way round) once per
window's worth of new observations, and early when more than 1 in 8 new points is rejected
(the jitter grew): amortized O(1) per observation. The gate for a new point widens by its
prediction error, and never goes below ``outlier_floor_ns`` (default 1 us) so integer
rounding is never an outlier.

**Discontinuities.** A point more than ``jump_ns`` (default 20 ms) off the fit is a suspect.
When ``jump_confirm`` (default 3) consecutive suspects agree with each other to ``jump_ns``,
the clock has stepped: the window restarts from the suspects, `discontinuities` counts it
and `DriftEstimator.add` returns `DriftStatus.DISCONTINUITY`. A single late point is just an
outlier.

**Not calibrated.** With fewer than 2 accepted observations, or all at the same local time,
the estimator is not `calibrated`: `rate`, `ppm`, `offset_ns`, `r_squared`, `to_remote` and
`to_local` return ``None`` (an unknown time is ``None`` throughout Parallax). Nothing divides
by zero. `to_local` is also ``None`` for a rate <= 0 (a remote clock that stands still).

**Errors.** Times are ``int`` ns (``numpy`` integers too): a float, NaN or inf raises
``TypeError`` naming the argument, a value outside int64 ``OverflowError``. A local time
before the previous observation's raises ``ValueError`` and adds nothing (local times may
repeat; remote times may go backwards, that is what discontinuities are for).

The delay-locked loop
---------------------
The second-order loop of Fons Adriaensen, "Using a DLL to filter time" (2005), as JACK and
PipeWire (``spa_dll``) use it: with ``w = 2 pi B T`` for loop bandwidth ``B`` and nominal
period ``T``, each measured time ``t`` updates ``e = t - t1; t0 = t1; t1 += sqrt(2) w e + e2;
e2 += w^2 e``, where ``t0`` is the filtered time returned, ``t1`` the predicted next time and
``e2`` the filtered period. As in PipeWire, the bandwidth starts wide (``bandwidth_max``,
0.128 Hz) to lock quickly and halves every ``hold_ns`` (3 s) down to ``bandwidth_min``
(0.025 Hz) to hold with little jitter; it widens again when the prediction errors keep one
sign for a couple of seconds (the rate changed). An error beyond ``max_error_ns`` (default:
one period: a lost period, a stall or a clock step) restarts the loop (`TimeDLL.resets`).

Threads
-------
Kernels are ``noexcept nogil`` C. `DriftEstimator.add`, the queries and `TimeDLL.update`
keep the GIL: they take tens of nanoseconds, less than releasing it would. The batch calls
`DriftEstimator.add_many`, `TimeDLL.update_many` and `sliding_regression` release it; a
call from another thread waits until such a batch call is done, so one object may be shared
by threads.

Examples
--------
>>> from parallax.drift import DriftEstimator
>>> est = DriftEstimator()
>>> est.to_remote(0) is None  # not calibrated yet
True
>>> for k in range(10):  # the remote clock runs 50 ppm fast and 7 us ahead
...     local = 2**62 + k * 100_000_000
...     status = est.add(local, local + 7_000 + k * 5_000)
>>> round(est.ppm, 6), est.offset_ns
(50.0, 52000)
>>> est.to_remote(2**62 + 2_000_000_000) - (2**62 + 2_000_000_000)
107000
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from parallax._ext import drift as _drift
from parallax._ext.drift import DriftEstimator, DriftStatus, TimeDLL

__all__ = ["DriftEstimator", "DriftStatus", "TimeDLL", "sliding_regression"]

Float64Array = npt.NDArray[np.float64]


def _array(array: object, name: str) -> npt.NDArray[np.int64] | Float64Array:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, not {type(array).__name__}")
    if array.dtype not in (np.int64, np.float64):
        raise TypeError(f"{name} must have dtype int64 (ns) or float64, not {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, not {array.ndim}-dimensional")
    if not array.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (use numpy.ascontiguousarray)")
    if array.dtype == np.float64:
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}]={array[bad[0]]} is not finite")
    return array


def sliding_regression(
    x: npt.NDArray[np.int64] | Float64Array,
    y: npt.NDArray[np.int64] | Float64Array,
    window: int,
) -> tuple[Float64Array, Float64Array]:
    """Least-squares line of ``y`` on ``x`` at every window position.

    Window ``i`` holds points ``i .. i + window - 1`` and its line is
    ``y = slope[i] * (x - x[i]) + intercept[i]``: the intercept is the line's value at the
    window's first ``x`` (GStreamer's ``xbase`` convention), not at ``x = 0``, so clock
    times near ``2**62`` ns keep their precision. Results agree with
    ``numpy.polyfit(x[w] - x[i], y[w], 1)`` to about 1e-12 relative.

    Parameters
    ----------
    x, y : ndarray of int64 or float64, 1-D, C-contiguous, same dtype and length
        Sample coordinates, e.g. local and remote clock times in ns. ``x`` need not be
        sorted. Float arrays must be finite; int64 arrays must span less than ``2**63``.
    window : int
        Points per window, ``2 <= window <= len(x)``.

    Returns
    -------
    slope, intercept : ndarray of float64
        ``len(x) - window + 1`` values each. A window whose ``x`` are all equal has no line:
        both are NaN there.

    Raises
    ------
    TypeError
        ``x`` or ``y`` is not an int64 / float64 numpy array, or ``window`` is not an int.
    ValueError
        Shapes or dtypes differ, ``window`` is out of range, or a value is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(6, dtype=np.int64) * 100
    >>> slope, intercept = sliding_regression(x, 2 * x + 5, 3)
    >>> slope.tolist(), intercept.tolist()
    ([2.0, 2.0, 2.0, 2.0], [5.0, 205.0, 405.0, 605.0])
    """
    x = _array(x, "x")
    y = _array(y, "y")
    if x.dtype != y.dtype:
        raise ValueError(f"x and y must have the same dtype, got {x.dtype} and {y.dtype}")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if not isinstance(window, int | np.integer) or isinstance(window, bool):
        raise TypeError(f"window must be an int, not {type(window).__name__}")
    if not 2 <= window <= len(x):
        raise ValueError(f"window must be in [2, len(x)={len(x)}], got {window}")
    try:
        return _drift.sliding_regression_kernel(x, y, int(window))
    except OverflowError as error:  # the kernel checks int64 spans in its own pass
        raise ValueError(f"{error} spans 2**63 ns or more: differences overflow int64") from None
