"""A/V sync report: how far two recorded streams drift apart over time.

A stream is the PTS of its buffers (capture instants, running time, ns) and, for a stream a
player times by counting (audio: samples at the nominal rate; video at a fixed frame rate),
the nominal position of each buffer (ns from the stream's first unit, exact:
``sample_pts(offsets, rate)``). Played by count, unit ``k`` plays at ``first_pts +
nominal[k]``; its *lag* is that minus its PTS: how late its content plays relative to when
it was captured. A stream played by its PTS (``nominal=None``) has lag 0.

`av_sync_report` fits each stream's lag against its PTS over a sliding window
(`sliding_regression`: jitter averages out) and reports, on a common grid of running
times, each lag, their difference (the A/V offset a viewer sees: positive when ``b`` plays
late against ``a``) and the drift rates in ppm. Arrays only: ``parallax.analysis`` plots.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from parallax.drift import sliding_regression
from parallax.time import SECOND

__all__ = ["SyncReport", "av_sync_report"]

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]


@dataclasses.dataclass(frozen=True)
class SyncReport:
    """Offsets and drift of stream ``b`` against stream ``a`` on a grid of running times.

    Attributes
    ----------
    time_ns : ndarray of int64
        Grid, running time ns (capture instants).
    offset_ns : ndarray of float64
        ``lag_b - lag_a``, ns: positive when ``b`` plays late against ``a``.
    drift_ppm : ndarray of float64
        ``drift_b_ppm - drift_a_ppm``: how fast the offset grows, ppm (us per second).
    lag_a_ns, lag_b_ns : ndarray of float64
        Each stream's fitted lag (played minus captured), ns.
    drift_a_ppm, drift_b_ppm : ndarray of float64
        Each stream's played rate against the capture clock, minus 1, ppm (a sound card
        80 ppm fast, played by sample count: +80).
    """

    time_ns: Int64Array
    offset_ns: Float64Array
    drift_ppm: Float64Array
    lag_a_ns: Float64Array
    lag_b_ns: Float64Array
    drift_a_ppm: Float64Array
    drift_b_ppm: Float64Array


def _stream(pts: object, nominal: object, name: str) -> tuple[Int64Array, Int64Array]:
    if not isinstance(pts, np.ndarray) or pts.dtype != np.int64 or pts.ndim != 1:
        raise TypeError(f"pts_{name} must be a 1-D int64 numpy array of ns")
    if len(pts) < 2:
        raise ValueError(f"pts_{name} needs at least 2 buffers, got {len(pts)}")
    if np.any(np.diff(pts) <= 0):
        raise ValueError(f"pts_{name} must strictly increase")
    pts = np.ascontiguousarray(pts)
    if nominal is None:
        return pts, np.zeros(len(pts), np.int64)
    if (
        not isinstance(nominal, np.ndarray)
        or nominal.dtype != np.int64
        or nominal.shape != (len(pts),)
    ):
        raise TypeError(f"nominal_{name} must be an int64 array as long as pts_{name}")
    lag = pts[0] + (nominal - nominal[0]) - pts
    return pts, np.ascontiguousarray(lag)


def _fit_at(
    x: Int64Array, y: Int64Array, window_ns: int, grid: Int64Array
) -> tuple[Float64Array, Float64Array]:
    spacing = float(np.median(np.diff(x)))
    window = int(min(len(x), max(2, round(window_ns / spacing))))
    slope, intercept = sliding_regression(x, y, window)
    centers = x[window // 2 : window // 2 + len(slope)]
    # the window whose center is nearest each grid time
    index = np.clip(np.searchsorted(centers, grid), 1, len(centers) - 1)
    index -= (grid - centers[index - 1]) < (centers[index] - grid)
    index = np.clip(index, 0, len(slope) - 1)
    values = slope[index] * (grid - x[index]).astype(np.float64) + intercept[index]
    return values, slope[index] * 1e6


def av_sync_report(
    pts_a: Int64Array,
    pts_b: Int64Array,
    *,
    nominal_a: Int64Array | None = None,
    nominal_b: Int64Array | None = None,
    window_ns: int = 60 * SECOND,
    step_ns: int = 10 * SECOND,
) -> SyncReport:
    """Estimate the A/V offset and relative drift of two streams over time.

    Parameters
    ----------
    pts_a, pts_b : ndarray of int64
        Buffer PTS of each stream, running time ns, strictly increasing (at least 2).
    nominal_a, nominal_b : ndarray of int64 or None
        Nominal position of each buffer, ns (same length as its PTS): the stream is played
        by count. None: played by its PTS (lag 0).
    window_ns : int
        Span of PTS each fit covers, ns (longer: less jitter, slower to follow changes).
    step_ns : int
        Grid spacing, ns.

    Returns
    -------
    SyncReport
        On the grid of running times where both streams have data.

    Raises
    ------
    TypeError, ValueError
        Bad arrays (not int64, too short, PTS not increasing), no overlap in time, or a
        window or step <= 0.

    Examples
    --------
    A sound card 80 ppm fast played by sample count, against video played by PTS:

    >>> import numpy as np
    >>> from parallax.time import sample_pts, scale_array
    >>> offsets = np.arange(0, 48_000 * 600, 480, dtype=np.int64)  # sample positions
    >>> audio_pts = scale_array(offsets, 10**15, 48_000 * 1_000_080)  # the card's crystal
    >>> video_pts = np.arange(0, 600 * 10**9, 10**9 // 30, dtype=np.int64)
    >>> report = av_sync_report(video_pts, audio_pts, nominal_b=sample_pts(offsets, 48_000))
    >>> int(report.time_ns[-1]) // 10**9, round(float(report.offset_ns[-1]) / 1e6, 3)  # s, ms
    (590, 47.2)
    >>> round(float(report.drift_ppm[-1]), 3)
    80.0
    """
    if window_ns <= 0 or step_ns <= 0:
        raise ValueError(f"window_ns and step_ns must be > 0, got {window_ns} and {step_ns}")
    x_a, y_a = _stream(pts_a, nominal_a, "a")
    x_b, y_b = _stream(pts_b, nominal_b, "b")
    start, end = max(x_a[0], x_b[0]), min(x_a[-1], x_b[-1])
    if start > end:
        raise ValueError("the two streams do not overlap in time")
    grid = np.arange(start, end + 1, step_ns, dtype=np.int64)
    lag_a, drift_a = _fit_at(x_a, y_a, window_ns, grid)
    lag_b, drift_b = _fit_at(x_b, y_b, window_ns, grid)
    return SyncReport(
        time_ns=grid,
        offset_ns=lag_b - lag_a,
        drift_ppm=drift_b - drift_a,
        lag_a_ns=lag_a,
        lag_b_ns=lag_b,
        drift_a_ppm=drift_a,
        drift_b_ppm=drift_b,
    )
