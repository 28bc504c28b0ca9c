"""Calibration and AlsaClock logic on scripted device positions (host only)."""

import time
from fractions import Fraction

import pytest

from parallax import SECOND, CaptureTime, ClockDomain, ClockError, ClockFlags, sample_time
from parallax.clock.alsa import PAIR_SPACING, AlsaClock, DevicePosition
from parallax.clock.calibration import Calibration


def test_calibration_identity_then_one_pair_then_exact_line():
    calibration = Calibration()
    assert calibration.to_device(123) == 123 and calibration.rate == 1
    calibration.add(1_000, 5_000)
    assert calibration.to_device(2_000) == 6_000 and calibration.to_monotonic(6_000) == 2_000
    # device = 5000 + 1.0001 * (mono - 1000): a card 100 ppm fast
    for k in range(1, 20):
        mono = 1_000 + k * 100_000_000
        calibration.add(mono, 5_000 + (mono - 1_000) * 10001 // 10000)
    assert calibration.rate == Fraction(10001, 10000)
    mono = 1_000 + 50 * SECOND
    device = calibration.to_device(mono)
    assert abs(device - (5_000 + 50 * SECOND * 10001 // 10000)) <= 1
    assert abs(calibration.to_monotonic(device) - mono) <= 1


def test_calibration_window_forgets_old_pairs_and_clamps_the_rate():
    calibration = Calibration(window=4, max_ppm=500)
    for k in range(10):
        calibration.add(k * SECOND, k * SECOND * 2)  # an absurd rate of 2
    assert calibration.count == 4
    assert calibration.rate == Fraction(1_000_500, 1_000_000)
    with pytest.raises(ValueError, match="window"):
        Calibration(window=1)


class Card:
    """A scripted playback position: tests set `position` (None: not running)."""

    def __init__(self) -> None:
        self.position: DevicePosition | None = None

    def __call__(self) -> DevicePosition | None:
        return self.position


def test_alsa_clock_identity_properties():
    clock = AlsaClock("hw:Dummy,0,0", Card())
    clock.configure(48000, 1024)
    assert clock.name == "alsa:hw:Dummy,0,0"
    assert clock.flags == ClockFlags.CAN_BE_MASTER | ClockFlags.HARDWARE | ClockFlags.REALTIME
    assert clock.resolution == 21_333_334  # one period, rounded up


def test_alsa_clock_runs_on_monotonic_until_the_card_starts_then_follows_it():
    card = Card()
    clock = AlsaClock("hw:0", card)
    clock.configure(48000, 480)
    before = time.monotonic_ns()
    idle = clock.now()
    assert before <= idle <= time.monotonic_ns()
    trigger = idle + 1_000_000  # the card starts 1 ms later (MONOTONIC)
    card.position = DevicePosition(trigger + 10 * 1_000_000, trigger, 480)
    started = clock.now()
    # the stream's frame 0 is the clock's time at the trigger; 480 frames are 10 ms
    assert started == trigger + sample_time(480, 48000)
    card.position = DevicePosition(trigger + 20_000_000, trigger, 960 + 48)
    assert clock.now() == trigger + sample_time(1008, 48000)
    # the hardware pointer read back lower (jitter): the clock holds, never goes back
    held = clock.now()
    card.position = DevicePosition(trigger + 21_000_000, trigger, 1000)
    assert clock.now() == held


def test_alsa_clock_calibrates_and_maps_monotonic_capture_times():
    card = Card()
    clock = AlsaClock("hw:0", card)
    clock.configure(48000, 480)
    trigger = 10 * SECOND
    # a card 200 ppm slow: after t MONOTONIC ns it has played t * 0.9998 ns of frames
    for k in range(1, 40):
        tstamp = trigger + k * PAIR_SPACING
        frames = (tstamp - trigger) * 9998 * 48000 // (10000 * SECOND)
        card.position = DevicePosition(tstamp, trigger, frames)
        clock.now()
    assert clock.calibration.count >= 30
    assert abs(clock.calibration.rate - Fraction(9998, 10000)) < Fraction(1, 10**6)
    later = trigger + 5 * SECOND
    mapped = clock.to_clock_time(CaptureTime(ClockDomain.MONOTONIC, later))
    expected = clock.calibration.to_device(trigger) + 5 * SECOND * 9998 // 10000
    assert abs(mapped - expected) < 50_000  # within a frame or two of the card's time
    with pytest.raises(ClockError, match="device"):
        clock.to_clock_time(CaptureTime(ClockDomain.DEVICE, 0))


def test_alsa_clock_continues_across_a_restart():
    card = Card()
    clock = AlsaClock("hw:0", card)
    clock.configure(48000, 480)
    first = time.monotonic_ns()
    card.position = DevicePosition(first + 100_000_000, first, 4800)
    reached = clock.now()
    card.position = None  # underrun: the stream stopped
    stopped = clock.now()
    assert stopped >= reached
    second = time.monotonic_ns()
    card.position = DevicePosition(second + 1, second, 0)
    resumed = clock.now()
    assert resumed >= stopped
    assert resumed == max(stopped, clock.calibration.to_device(second))


def test_alsa_clock_wait_until_returns_and_cancels():
    import threading

    clock = AlsaClock("hw:0", Card())
    target = clock.now() + 2_000_000
    assert clock.wait_until(target)
    assert clock.now() >= target
    cancel = threading.Event()
    cancel.set()
    assert not clock.wait_until(clock.now() + SECOND, cancel)
