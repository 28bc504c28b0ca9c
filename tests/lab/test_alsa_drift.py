"""Issue 8, acceptance 4: the drift of hw:Dummy against CLOCK_MONOTONIC, reported and stable.

alsasrc captures ~6 s from snd-dummy while the pipeline runs on the SystemClock (the card's
clock is not the pipeline's). Two estimates of the card's rate against CLOCK_MONOTONIC:

* ``alsasrc.drift_ppm``, what a user reads: the card's `AlsaClock` calibration, fed from the
  driver's (htstamp, position) pair of a read every 50 ms;
* an independent `DriftEstimator` fed here with each buffer's (MONOTONIC capture time,
  sample position in ns) pair.

snd-dummy advances on the CPU's hrtimer, i.e. on CLOCK_MONOTONIC itself, so its true drift is
0 ppm (a real card's crystal is within ~100 ppm): |ppm| < 1000 catches a broken conversion.
Stability: the estimates after 3 s and after 6 s, and the two estimators, must agree within
five standard errors of the fitted rate computed from the jitter the estimators measure
(`rate_error_ppm`), not within a guessed constant.
"""

from __future__ import annotations

import math

import pytest

import parallax
from parallax import SECOND, SystemClock, sample_time
from parallax.clock.alsa import AlsaClock
from parallax.drift import DriftEstimator
from parallax.pipeline import Sink

pytestmark = pytest.mark.lab

RATE = 48000
PERIOD = 1024
DUMMY = "hw:Dummy,0,0"
SECONDS = 6


class DriftProbe(Sink):
    """Records each buffer's (capture ns, sample position) and the element's `drift_ppm`
    right after it was produced (produce and render run in turn on the streaming thread)."""

    factory_name = "driftprobe"

    def __init__(self, src: parallax.Element) -> None:
        super().__init__(sync=False)
        self.src = src
        self.rows: list[tuple[int, int, float | None]] = []

    def render(self, buffer: parallax.Buffer) -> None:
        self.rows.append((buffer.capture.ns, buffer.offset, self.src.drift_ppm))


def rate_error_ppm(jitter_ns: float, points: int, span_ns: int) -> float:
    """Standard error of a least-squares rate from ``points`` spread evenly over ``span_ns``
    with residual jitter ``jitter_ns``: ``sigma * sqrt(12 / n) / T``, ppm."""
    return jitter_ns * math.sqrt(12 / points) / span_ns * 1e6


def test_dummy_drift_against_monotonic_is_reported_and_stable():
    count = -(-SECONDS * RATE // PERIOD)
    # A deep ring buffer (12 periods, 256 ms): the loaded guest must not overrun.
    src = parallax.make("alsasrc", device=DUMMY, num_buffers=count, period_size=PERIOD, periods=12)
    probe = DriftProbe(src)
    pipeline = parallax.Pipeline()
    pipeline.link(src, probe)
    pipeline.use_clock(SystemClock())  # the SystemClock is the master; the card is measured
    pipeline.run(timeout=60)
    assert isinstance(pipeline.clock, SystemClock)
    rows = probe.rows
    assert len(rows) == count
    card_clock = src.provide_clock()
    assert isinstance(card_clock, AlsaClock)

    # The independent estimate, snapshot after 3 s of capture and at the end.
    estimator = DriftEstimator()
    first = rows[0][0]
    half = next(i for i, row in enumerate(rows) if row[0] - first >= SECONDS * SECOND // 2)
    own: dict[str, tuple[float, float, int, int]] = {}
    for i, (capture, offset, _) in enumerate(rows):
        estimator.add(capture, sample_time(offset, RATE))
        if i in (half, len(rows) - 1):
            ppm, jitter = estimator.ppm, estimator.jitter_ns
            assert ppm is not None and jitter is not None
            own["3s" if i == half else "6s"] = (ppm, jitter, estimator.accepted, capture - first)
    element = {"3s": rows[half][2], "6s": rows[-1][2]}
    cal = card_clock.monotonic
    print(
        f"\nown estimator: {own}\nalsasrc.drift_ppm: {element}; card calibration jitter "
        f"{cal.jitter_ns} ns, {cal.estimator.accepted} pairs, {cal.estimator.outliers} "
        f"outliers, {cal.estimator.discontinuities} discontinuities"
    )

    # Reported: finite and plausible.
    for ppm in (*element.values(), *(o[0] for o in own.values())):
        assert ppm is not None and math.isfinite(ppm) and abs(ppm) < 1000, (element, own)
    assert src.drift_ppm == element["6s"]

    # Stable: five standard errors of the 3 s estimate plus those of the 6 s one (the
    # difference of two estimates errs by at most the sum); the element's calibration
    # has fewer, sparser pairs (one per 50 ms), so its error uses its own count.
    jitter = max(own["3s"][1], own["6s"][1], cal.jitter_ns or 0.0)
    own_bound = 5 * sum(rate_error_ppm(jitter, n, span) for _, _, n, span in own.values())
    assert abs(own["6s"][0] - own["3s"][0]) <= own_bound, (own, own_bound)
    pairs_3s = max(2, cal.estimator.accepted // 2)
    span = own["6s"][3]
    element_bound = 5 * (
        rate_error_ppm(jitter, pairs_3s, span // 2)
        + rate_error_ppm(jitter, cal.estimator.accepted, span)
    )
    assert element["3s"] is not None and element["6s"] is not None
    assert abs(element["6s"] - element["3s"]) <= element_bound, (element, element_bound)
    # The element reports what the buffers show.
    assert abs(element["6s"] - own["6s"][0]) <= element_bound + own_bound, (element, own)
