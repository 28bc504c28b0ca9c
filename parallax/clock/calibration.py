"""`Calibration`: a line through (CLOCK_MONOTONIC, device time) observation pairs.

A hardware clock (a sound card's crystal) runs at a slightly different rate than
``CLOCK_MONOTONIC``. Each observation pairs a MONOTONIC time with the device's time at that
instant; a least-squares line through the latest pairs maps either way. This is the minimal
estimator the ALSA clock needs; the interface (`add`, `to_device`, `to_monotonic`, `rate`)
is the one a full drift estimator replaces it with.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

PPM = Fraction(1, 1_000_000)


class Calibration:
    """Least-squares mapping between MONOTONIC ns and device ns over a window of pairs.

    With no pair the mapping is the identity; with one pair it is that pair at rate 1; with
    more it is the least-squares line through the last ``window`` pairs, its rate clamped to
    ``1 +- max_ppm`` (a sound card's crystal is within about 100 ppm; a wider fitted rate
    comes from timestamp jitter over a short window, not from the crystal).

    Arithmetic is exact: sums of Python ints, the rate a `Fraction` (limited to a 10^12
    denominator: 1e-12 relative precision), results floored to int ns.

    Parameters
    ----------
    window : int
        Pairs kept, >= 2.
    max_ppm : int
        Largest rate deviation from 1 believed, parts per million.
    """

    def __init__(self, window: int = 64, max_ppm: int = 500) -> None:
        if window < 2:
            raise ValueError(f"window must be >= 2 pairs, got {window}")
        self._pairs: deque[tuple[int, int]] = deque(maxlen=window)
        self._max_deviation = max_ppm * PPM
        self._rate = Fraction(1)
        self._x = Fraction(0)
        self._y = Fraction(0)

    @property
    def count(self) -> int:
        """Pairs in the window."""
        return len(self._pairs)

    @property
    def rate(self) -> Fraction:
        """Device ns per MONOTONIC ns (1 until two pairs are known)."""
        return self._rate

    def add(self, monotonic_ns: int, device_ns: int) -> None:
        """Add an observation: the device's time was ``device_ns`` at ``monotonic_ns``."""
        pairs = self._pairs
        pairs.append((monotonic_ns, device_ns))
        n = len(pairs)
        # Sums relative to the oldest pair keep the numbers small; ints make them exact.
        x0, y0 = pairs[0]
        sx = sy = sxx = sxy = 0
        for x, y in pairs:
            dx, dy = x - x0, y - y0
            sx += dx
            sy += dy
            sxx += dx * dx
            sxy += dx * dy
        spread = n * sxx - sx * sx
        if spread > 0:
            rate = Fraction(n * sxy - sx * sy, spread).limit_denominator(10**12)
            low, high = 1 - self._max_deviation, 1 + self._max_deviation
            self._rate = min(max(rate, low), high)
        else:
            self._rate = Fraction(1)
        # The fitted line passes through the centroid.
        self._x = x0 + Fraction(sx, n)
        self._y = y0 + Fraction(sy, n)

    def to_device(self, monotonic_ns: int) -> int:
        """Map a MONOTONIC time to device time, ns (floored)."""
        return int((self._y + self._rate * (monotonic_ns - self._x)).__floor__())

    def to_monotonic(self, device_ns: int) -> int:
        """Map a device time to MONOTONIC, ns (floored)."""
        return int((self._x + (device_ns - self._y) / self._rate).__floor__())
