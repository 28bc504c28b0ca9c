"""The exact time kernels against the best exact numpy we can write, 1e6 elements, same run.

Each ``test_*_ratio`` measures ours and the baseline interleaved (min of repeats) and asserts
the ratio; the ``benchmark`` fixture registers the same calls with pytest-benchmark for the
table. Every baseline is checked to give exactly our output first: a fast wrong answer is not
a baseline. Run with ``make bench``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from parallax.time import SECOND, interpolate_durations, sample_pts, scale_array

N = 1_000_000
RATES = [44100, 47999, 48000]
rng = np.random.default_rng(2024)


def numpy_scale_add(values: np.ndarray, num: int, denom: int, base: int) -> np.ndarray:
    """Exact ``base + floor(values * num / denom)`` in numpy, for 0 < num and denom.

    Divmod decomposition so no product overflows int64: values = q * denom + r with
    0 <= r < denom (numpy's // floors, also for negative values), and floor(values * num /
    denom) = q * num + floor(r * num / denom), where r * num < denom * num must fit int64
    (true for the ratios below) and q * num is no larger than the result. In place after the
    first two passes: this is numpy's fastest exact form we found (np.divmod is ~3x slower,
    its integer path is not vectorized; // by a scalar is, through libdivide).
    """
    q = values // denom
    r = q * denom
    np.subtract(values, r, out=r)
    q *= num
    r *= num
    r //= denom
    q += r
    q += base
    return q


def numpy_sample_pts(positions: np.ndarray, rate: int, base_ns: int) -> np.ndarray:
    g = math.gcd(SECOND, rate)
    return numpy_scale_add(positions, SECOND // g, rate // g, base_ns)


def check_same(ours: Callable[[], np.ndarray], baseline: Callable[[], np.ndarray]) -> None:
    expected, got = baseline(), ours()
    assert got.dtype == expected.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------------------- sample_pts

POSITIONS = rng.integers(0, 2**40, N)  # sample positions up to ~290 days at 44.1 kHz
BASE = -5 * SECOND


@pytest.mark.parametrize("rate", RATES)
def test_sample_pts_ratio(rate: int, compare, benchmark) -> None:  # type: ignore[no-untyped-def]
    ours = lambda: sample_pts(POSITIONS, rate, BASE)  # noqa: E731
    baseline = lambda: numpy_sample_pts(POSITIONS, rate, BASE)  # noqa: E731
    check_same(ours, baseline)
    compare(f"sample_pts rate={rate} vs numpy exact", ours, baseline, at_most=1 / 3)
    benchmark.group = f"sample_pts {rate}"
    benchmark(ours)


@pytest.mark.parametrize("rate", RATES)
def test_sample_pts_numpy_exact(rate: int, benchmark) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"sample_pts {rate}"
    benchmark(numpy_sample_pts, POSITIONS, rate, BASE)


# ----------------------------------------------------------------- interpolate_durations

FRAME = SECOND * 1001 // 30000
PTS = np.cumsum(rng.integers(FRAME - 1000, FRAME + 1000, N))  # jittered 29.97 fps


def test_interpolate_durations_ratio(compare, benchmark) -> None:  # type: ignore[no-untyped-def]
    ours = lambda: interpolate_durations(PTS, FRAME)  # noqa: E731
    # np.diff is not even a complete answer (n - 1 values, no NONE_NS, no check): the floor.
    baseline = lambda: np.diff(PTS)  # noqa: E731
    np.testing.assert_array_equal(ours()[:-1], baseline())
    compare("interpolate_durations vs np.diff", ours, baseline, at_most=1.5)
    benchmark.group = "durations"
    benchmark(ours)


def test_interpolate_durations_np_diff(benchmark) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "durations"
    benchmark(np.diff, PTS)


# --------------------------------------------------------------------------- scale_array

# running times in ns, +-19.5 hours, to 90 kHz MPEG-TS ticks (ratio 90000 / SECOND = 9 / 100000)
RUNNING = rng.integers(-(2**46), 2**46, N)


def test_scale_array_ratio(compare, benchmark) -> None:  # type: ignore[no-untyped-def]
    ours = lambda: scale_array(RUNNING, 90_000, SECOND)  # noqa: E731
    baseline = lambda: numpy_scale_add(RUNNING, 9, 100_000, 0)  # noqa: E731
    check_same(ours, baseline)
    compare("scale_array ns->90kHz vs numpy exact", ours, baseline, at_most=1 / 2)
    benchmark.group = "scale_array"
    benchmark(ours)


def test_scale_array_numpy_exact(benchmark) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "scale_array"
    benchmark(numpy_scale_add, RUNNING, 9, 100_000, 0)
