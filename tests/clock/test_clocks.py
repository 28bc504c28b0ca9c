import threading
import time

import pytest

from parallax import ClockError
from parallax.clock import Clock, ClockFlags, ManualClock, SystemClock, select_clock
from parallax.time import CaptureTime, ClockDomain


class Provider:
    def __init__(self, priority: int, clock: Clock | None) -> None:
        self.priority = priority
        self.clock = clock

    def provide_clock(self) -> Clock | None:
        return self.clock

    def clock_priority(self) -> int:
        return self.priority


def test_select_highest_priority_ties_to_first():
    clocks = [ManualClock(name=f"c{i}") for i in range(4)]
    providers = [Provider(p, c) for p, c in zip([0, 100, 100, 50], clocks, strict=True)]
    clock, provider = select_clock(providers)
    assert clock is clocks[1]
    assert provider is providers[1]


def test_select_falls_back_to_system_clock():
    clock, provider = select_clock([])
    assert isinstance(clock, SystemClock)
    assert provider is None


def test_select_skips_provider_without_clock():
    fallback = ManualClock(name="low")
    providers = [Provider(300, None), Provider(10, fallback)]
    clock, provider = select_clock(providers)
    assert clock is fallback
    assert provider is providers[1]
    assert isinstance(select_clock([Provider(300, None)])[0], SystemClock)


def test_system_clock_is_monotonic_ns():
    clock = SystemClock()
    before = time.monotonic_ns()
    now = clock.now()
    after = time.monotonic_ns()
    assert before <= now <= after
    assert 1 <= clock.resolution <= 1_000_000
    assert clock.flags & ClockFlags.CAN_BE_MASTER


def test_system_clock_maps_monotonic_exactly():
    clock = SystemClock()
    for ns in (0, 1, 123_456_789_012, -5):
        assert clock.to_clock_time(CaptureTime(ClockDomain.MONOTONIC, ns)) == ns


def test_system_clock_maps_realtime_and_boottime_through_offset():
    clock = SystemClock()
    mono = time.monotonic_ns()
    real = clock.to_clock_time(CaptureTime(ClockDomain.REALTIME, time.clock_gettime_ns(0)))
    boot = clock.to_clock_time(
        CaptureTime(ClockDomain.BOOTTIME, time.clock_gettime_ns(time.CLOCK_BOOTTIME))
    )
    # read right after mono: the mapped times are mono plus a few microseconds of reading
    assert 0 <= real - mono < 50_000_000
    assert 0 <= boot - mono < 50_000_000


@pytest.mark.parametrize("domain", [ClockDomain.DEVICE, ClockDomain.UNKNOWN])
def test_system_clock_refuses_unmappable_domains(domain):
    with pytest.raises(ClockError, match=domain.value):
        SystemClock().to_clock_time(CaptureTime(domain, 5))


def test_system_wait_reaches_target():
    clock = SystemClock()
    target = clock.now() + 2_000_000
    assert clock.wait_until(target) is True
    assert clock.now() >= target
    assert clock.wait_until(clock.now() - 1) is True


def test_system_wait_cancelled_returns_false_at_once():
    clock = SystemClock()
    cancel = threading.Event()
    cancel.set()
    start = time.monotonic_ns()
    assert clock.wait_until(start + 60_000_000_000, cancel) is False
    assert clock.wait_until(start - 1, cancel) is False


def test_system_wait_cancel_from_other_thread():
    clock = SystemClock()
    cancel = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(
        target=lambda: result.append(clock.wait_until(clock.now() + 60_000_000_000, cancel))
    )
    waiter.start()
    cancel.set()
    waiter.join(5)
    assert not waiter.is_alive()
    assert result == [False]


def test_manual_clock_advance_and_set():
    clock = ManualClock(start=10)
    assert clock.now() == 10
    assert clock.advance(5) == 15
    clock.set_time(100)
    assert clock.now() == 100
    with pytest.raises(ClockError, match="cannot go back"):
        clock.set_time(99)
    with pytest.raises(ClockError):
        clock.advance(-1)


def test_manual_wait_wakes_exactly_when_time_passes_target():
    clock = ManualClock()
    done = threading.Event()
    results: list[bool] = []

    def wait() -> None:
        results.append(clock.wait_until(1000))
        done.set()

    thread = threading.Thread(target=wait)
    thread.start()
    assert clock.wait_for_pending(1) == [1000]
    clock.advance(999)
    assert not done.wait(0.05)
    clock.advance(1)
    assert done.wait(5)
    thread.join(5)
    assert results == [True]
    assert clock.pending == []


def test_manual_crank_moves_to_pending_target():
    clock = ManualClock(start=5)
    thread = threading.Thread(target=clock.wait_until, args=(777,))
    thread.start()
    assert clock.crank() == 777
    thread.join(5)
    assert not thread.is_alive()
    assert clock.now() == 777


def test_manual_wait_cancel():
    clock = ManualClock()
    cancel = threading.Event()
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(clock.wait_until(10, cancel)))
    thread.start()
    clock.wait_for_pending(1)
    cancel.set()
    thread.join(5)
    assert results == [False]
    assert clock.now() == 0


def test_manual_wait_for_pending_times_out():
    with pytest.raises(TimeoutError):
        ManualClock().wait_for_pending(1, timeout=0.01)


def test_manual_released_wait_is_no_longer_pending():
    # a wait whose target was reached no longer counts, even before its thread runs again
    # to deregister: otherwise a crank loop spins on it (and starves the streaming threads)
    clock = ManualClock()
    thread = threading.Thread(target=clock.wait_until, args=(100,), daemon=True)
    thread.start()
    assert clock.wait_for_pending(1) == [100]
    clock.set_time(100)
    assert clock.pending == []
    with pytest.raises(TimeoutError):
        clock.wait_for_pending(1, timeout=0.01)
    thread.join(5)
    assert not thread.is_alive()
