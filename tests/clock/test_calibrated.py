"""Calibration and CalibratedClock: a device clock followed through observations."""

import numpy as np
import pytest

from parallax import SECOND, ClockError
from parallax.clock import ClockFlags, ManualClock, SystemClock
from parallax.clock.calibrated import CalibratedClock, Calibration
from parallax.drift import DriftStatus
from parallax.time import CaptureTime, ClockDomain, scale

PPM = 80


class Card:
    """A device counter (ns) on a crystal PPM fast, started at MONOTONIC `start`."""

    def __init__(self, clock: ManualClock, start: int, ppm: int = PPM) -> None:
        self.clock, self.start, self.ppm = clock, start, ppm

    def __call__(self) -> int:
        return scale(self.clock.now() - self.start, 10**6 + self.ppm, 10**6)


def test_calibration_before_any_observation_raises_clock_error():
    cal = Calibration("card vs monotonic")
    assert not cal.observed and not cal.calibrated and cal.ppm is None
    with pytest.raises(ClockError, match="card vs monotonic: not calibrated"):
        cal.to_remote(0)
    with pytest.raises(ClockError):
        cal.to_local(0)


def test_calibration_with_one_observation_maps_by_offset():
    cal = Calibration()
    assert cal.add(1_000, 51_000) is DriftStatus.ACCEPTED
    assert cal.observed and not cal.calibrated
    assert cal.to_remote(2_000) == 52_000
    assert cal.to_local(52_000) == 2_000


def test_calibration_fits_drift_and_maps_both_ways_at_large_times():
    cal = Calibration()
    rng = np.random.default_rng(3)
    local0 = 2**62
    for k in range(600):
        local = local0 + k * 100_000_000
        remote = 5 * SECOND + scale(k * 100_000_000, 10**6 + PPM, 10**6)
        cal.add(local, remote + round(rng.normal(0, 10_000)))
    assert cal.ppm == pytest.approx(PPM, abs=0.1)
    local = local0 + 30 * SECOND
    expected = 5 * SECOND + scale(30 * SECOND, 10**6 + PPM, 10**6)
    assert abs(cal.to_remote(local) - expected) < 10_000
    assert abs(cal.to_local(cal.to_remote(local)) - local) <= 1


def test_calibration_observe_pairs_the_remote_read_with_the_local_midpoint():
    reads = iter([100, 300])
    cal = Calibration()
    cal.observe(lambda: next(reads), lambda: 7_000)
    assert cal.to_remote(200) == 7_000


def test_calibration_bad_input_raises_and_adds_nothing():
    cal = Calibration()
    cal.add(1_000, 1_000)
    with pytest.raises(TypeError):
        cal.add(float("nan"), 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        cal.add(500, 500)  # local time going back
    assert cal.to_remote(1_000) == 1_000


def test_free_running_clock_counts_its_device_and_maps_monotonic_captures():
    mono = ManualClock(start=1_000 * SECOND)
    card = Card(mono, start=1_000 * SECOND)
    clock = CalibratedClock("card", card, read_monotonic=mono.now)
    assert clock.flags & ClockFlags.CAN_SET_MASTER and clock.flags & ClockFlags.HARDWARE
    for _ in range(50):
        clock.observe()
        mono.advance(SECOND // 10)
    assert clock.monotonic.ppm == pytest.approx(PPM, abs=1e-3)
    assert clock.now() == card()
    capture = CaptureTime(ClockDomain.MONOTONIC, 1_003 * SECOND)
    assert abs(clock.to_clock_time(capture) - 3 * SECOND * (10**6 + PPM) // 10**6) <= 1
    assert clock.to_clock_time(CaptureTime(ClockDomain.DEVICE, 123)) == 123
    with pytest.raises(ClockError, match="cannot map a realtime"):
        clock.to_clock_time(CaptureTime(ClockDomain.REALTIME, 0))


def test_slaved_clock_follows_its_master():
    mono = ManualClock(start=50 * SECOND)
    card = Card(mono, start=50 * SECOND)
    clock = CalibratedClock("card", card, read_monotonic=mono.now, master_interval_ns=0)
    clock.set_master(mono)
    with pytest.raises(ClockError):
        clock.now()  # slaved, never observed
    for _ in range(100):
        clock.observe()
        clock.observe_master()
        mono.advance(SECOND // 10)
    # the device runs 80 ppm fast, yet the slaved clock reads the master's time
    assert clock.to_master is not None
    assert clock.to_master.ppm == pytest.approx(-PPM * 1e6 / (1e6 + PPM), abs=1e-3)
    assert abs(clock.now() - mono.now()) <= 1
    assert card() - (mono.now() - 50 * SECOND) > 790_000  # 800 us ahead after 10 s
    # a MONOTONIC capture maps to the master's time too (both fits, consistent with now)
    capture = CaptureTime(ClockDomain.MONOTONIC, mono.now() - SECOND)
    assert abs(clock.to_clock_time(capture) - capture.ns) <= 2
    clock.set_master(None)
    assert clock.now() == card()


def test_slaved_clock_observes_its_master_by_itself_every_interval():
    mono = ManualClock(start=0)
    card = Card(mono, start=0)
    clock = CalibratedClock("card", card, read_monotonic=mono.now, master_interval_ns=SECOND)
    clock.set_master(mono)
    for _ in range(100):
        clock.now()
        mono.advance(SECOND // 10)
    assert clock.to_master is not None
    assert clock.to_master.estimator.observations == 10
    assert abs(clock.now() - mono.now()) <= 1


def test_set_master_refuses_itself_and_clocks_that_cannot_be_masters():
    mono = ManualClock()
    clock = CalibratedClock("card", Card(mono, 0), read_monotonic=mono.now)
    with pytest.raises(ClockError, match="its own master"):
        clock.set_master(clock)

    class Follower(ManualClock):
        flags = ClockFlags.CAN_SET_MASTER

    with pytest.raises(ClockError, match="cannot be a master"):
        clock.set_master(Follower())
    with pytest.raises(ClockError, match="without a master"):
        clock.observe_master()
    clock.set_master(SystemClock())  # fine


def test_wait_until_returns_at_once_when_cancelled_or_reached():
    import threading

    mono = ManualClock(start=0)
    clock = CalibratedClock("card", Card(mono, 0), read_monotonic=mono.now)
    cancel = threading.Event()
    cancel.set()
    assert clock.wait_until(10**15, cancel) is False
    assert clock.wait_until(0) is True
