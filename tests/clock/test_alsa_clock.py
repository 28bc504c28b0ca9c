"""AlsaClock logic on scripted device positions (host only).

AlsaClock is a `CalibratedClock` whose calibration (`parallax.clock.calibrated.Calibration`,
tested on its own in test_calibrated.py) learns from the card's (htstamp, position) pairs.
These tests pin what the clock relies on: MONOTONIC capture times map into the card's time
and back, and `now` advances with the card.
"""

import threading
import time

import pytest

from parallax import SECOND, CaptureTime, ClockDomain, ClockError, ClockFlags, sample_time
from parallax.clock import ManualClock
from parallax.clock.alsa import PAIR_SPACING, AlsaClock, DevicePosition
from parallax.drift import DriftStatus

RATE = 48000


class Card:
    """A scripted stream position: tests set `position` (None: not running)."""

    def __init__(self) -> None:
        self.position: DevicePosition | None = None

    def __call__(self) -> DevicePosition | None:
        return self.position


def slow_card_frames(elapsed_ns: int) -> int:
    """Frames a card 200 ppm slow has captured ``elapsed_ns`` MONOTONIC ns after its start."""
    return elapsed_ns * 9998 * RATE // (10000 * SECOND)


def run_slow_card(card: Card, clock: AlsaClock, mono: ManualClock, trigger: int, seconds: int):
    """Advance MONOTONIC and the card together, reading the clock every PAIR_SPACING."""
    for _ in range(seconds * SECOND // PAIR_SPACING):
        mono.advance(PAIR_SPACING)
        card.position = DevicePosition(mono.now(), trigger, slow_card_frames(mono.now() - trigger))
        clock.now()


def test_alsa_clock_identity_properties():
    clock = AlsaClock("hw:Dummy,0,0", Card())
    clock.configure(RATE, 1024)
    assert clock.name == "alsa:hw:Dummy,0,0"
    assert clock.flags & ClockFlags.CAN_BE_MASTER and clock.flags & ClockFlags.HARDWARE
    assert clock.flags & ClockFlags.REALTIME and clock.flags & ClockFlags.CAN_SET_MASTER
    assert clock.resolution == 21_333_334  # one period, rounded up
    assert clock.monotonic.ppm is None  # no drift known before the card ran


def test_alsa_clock_runs_on_monotonic_until_the_card_starts_then_follows_it():
    card = Card()
    clock = AlsaClock("hw:0", card)
    clock.configure(RATE, 480)
    before = time.monotonic_ns()
    idle = clock.now()
    assert before <= idle <= time.monotonic_ns()
    # not observed yet: a MONOTONIC capture is the clock's time as it is
    assert clock.to_clock_time(CaptureTime(ClockDomain.MONOTONIC, 123)) == 123
    trigger = idle + 1_000_000  # the card starts 1 ms later (MONOTONIC)
    card.position = DevicePosition(trigger + 10 * 1_000_000, trigger, 480)
    started = clock.now()
    # the stream's frame 0 is the clock's time at the trigger; 480 frames are 10 ms
    assert started == trigger + sample_time(480, RATE)
    card.position = DevicePosition(trigger + 20_000_000, trigger, 960 + 48)
    assert clock.now() == trigger + sample_time(1008, RATE)
    # the hardware pointer read back lower (jitter): the clock holds, never goes back
    held = clock.now()
    card.position = DevicePosition(trigger + 21_000_000, trigger, 1000)
    assert clock.now() == held


def test_alsa_clock_calibrates_and_maps_monotonic_capture_times_both_ways():
    mono = ManualClock(start=10 * SECOND)
    card = Card()
    clock = AlsaClock("hw:0", card, read_monotonic=mono.now)
    clock.configure(RATE, 480)
    trigger = mono.now()
    run_slow_card(card, clock, mono, trigger, seconds=10)
    assert clock.monotonic.estimator.accepted == 10 * SECOND // PAIR_SPACING
    assert clock.monotonic.ppm == pytest.approx(-200, abs=1)  # frames floored: 6 us jitter
    # a MONOTONIC capture 5 s after the trigger is 5 s * 0.9998 of card time after it
    capture = trigger + 5 * SECOND
    mapped = clock.to_clock_time(CaptureTime(ClockDomain.MONOTONIC, capture))
    assert abs(mapped - (trigger + 5 * SECOND * 9998 // 10000)) < 50_000  # within 2 frames
    assert abs(clock.monotonic.to_local(mapped) - capture) <= 1  # and back
    # another POSIX clock's capture goes through MONOTONIC
    realtime = CaptureTime(ClockDomain.REALTIME, capture + time.time_ns() - time.monotonic_ns())
    assert abs(clock.to_clock_time(realtime) - mapped) < 1_000_000
    with pytest.raises(ClockError, match="device"):
        clock.to_clock_time(CaptureTime(ClockDomain.DEVICE, 0))


def test_alsa_clock_calibration_ignores_a_late_timestamp():
    mono = ManualClock(start=SECOND)
    card = Card()
    clock = AlsaClock("hw:0", card, read_monotonic=mono.now)
    clock.configure(RATE, 480)
    trigger = mono.now()
    run_slow_card(card, clock, mono, trigger, seconds=3)
    ppm = clock.monotonic.ppm
    # a status whose htstamp was taken 5 ms after the position (a preempted driver call)
    mono.advance(PAIR_SPACING)
    frames = slow_card_frames(mono.now() - 5_000_000 - trigger)
    assert clock.observe_position(DevicePosition(mono.now(), trigger, frames)) > 0
    assert clock.monotonic.estimator.outliers == 1
    assert clock.monotonic.ppm == ppm
    # observe() takes the card's position now, whatever the pair spacing
    card.position = DevicePosition(mono.now() + 1, trigger, slow_card_frames(mono.now() + 1))
    assert clock.observe() in (DriftStatus.ACCEPTED, DriftStatus.OUTLIER)
    card.position = None
    with pytest.raises(ClockError, match="no new card position"):
        clock.observe()


def test_alsa_clock_continues_across_a_restart():
    card = Card()
    clock = AlsaClock("hw:0", card)
    clock.configure(RATE, 480)
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
    assert resumed == max(stopped, clock.monotonic.to_remote(second))


def test_alsa_clock_slaved_to_a_master_reads_the_masters_time():
    mono = ManualClock(start=10 * SECOND)
    card = Card()
    clock = AlsaClock("hw:0", card, read_monotonic=mono.now)
    clock.configure(RATE, 480)
    clock.set_master(mono)
    trigger = mono.now()
    run_slow_card(card, clock, mono, trigger, seconds=10)
    # the card is 2 ms behind MONOTONIC after 10 s, the slaved clock is not
    assert mono.now() - (trigger + sample_time(card.position.frames, RATE)) > 1_900_000
    assert abs(clock.now() - mono.now()) < 50_000


def test_alsa_clock_wait_until_returns_and_cancels():
    clock = AlsaClock("hw:0", Card())
    target = clock.now() + 2_000_000
    assert clock.wait_until(target)
    assert clock.now() >= target
    cancel = threading.Event()
    cancel.set()
    assert not clock.wait_until(clock.now() + SECOND, cancel)
