"""timestamp-smoothing: TimestampSmoother and appsrc's do-timestamp dejittering."""

import numpy as np
import pytest

import parallax
from parallax import SECOND, ManualClock, State
from parallax.elements.smoothing import TimestampSmoother
from parallax.errors import TimestampError
from parallax.time import sample_time

PERIOD = 1024
RATE = 48_000


def jittery_periods(n: int, sigma: float, ppm: float = 50.0, seed: int = 4):
    """Measured start times of n periods of a card `ppm` fast, with Gaussian jitter."""
    rng = np.random.default_rng(seed)
    nominal = [sample_time(k * PERIOD, RATE) for k in range(n + 1)]
    true = [10**15 + round(t / (1 + ppm * 1e-6)) for t in nominal]
    measured = [t + round(rng.normal(0, sigma)) for t in true]
    return nominal, true, measured


@pytest.mark.parametrize("mode", ["dll", "regression"])
def test_smoothing_removes_most_of_the_jitter_and_keeps_the_drift(mode):
    n = 3000  # 64 s of 1024-sample periods
    nominal, true, measured = jittery_periods(n, sigma=1e6)
    smoother = TimestampSmoother(mode, "src")
    out = [smoother.smooth(measured[k], nominal[k], nominal[k + 1]) for k in range(n)]
    error = np.array(out[-1000:]) - np.array(true[n - 1000 : n])
    raw = np.array(measured[n - 1000 : n]) - np.array(true[n - 1000 : n])
    assert np.std(raw) > 900_000
    assert np.sqrt(np.mean(error.astype(float) ** 2)) < 100_000  # < 100 us from 1 ms
    assert smoother.resets == 0


def test_none_passes_times_through_and_bad_modes_raise():
    smoother = TimestampSmoother("none")
    assert smoother.smooth(123, 0, 1) == 123
    with pytest.raises(ValueError, match="timestamp-smoothing='median'"):
        TimestampSmoother("median", "src")


def test_dll_needs_equal_periods_and_regression_does_not():
    dll = TimestampSmoother("dll", "src")
    dll.smooth(0, 0, 1000)
    with pytest.raises(TimestampError, match="equal length"):
        dll.smooth(1000, 1000, 3000)
    regression = TimestampSmoother("regression", "src")
    for start, end in ((0, 1000), (1000, 3000), (3000, 3500)):
        assert regression.smooth(start + 7, start, end) == start + 7


def test_regression_refuses_positions_going_back():
    smoother = TimestampSmoother("regression", "src")
    smoother.smooth(0, 1000, 2000)
    with pytest.raises(TimestampError, match="src"):
        smoother.smooth(0, 0, 1000)


@pytest.mark.parametrize("mode", ["dll", "regression"])
def test_appsrc_do_timestamp_stamps_are_smoothed(mode):
    clock = ManualClock()
    pipeline = parallax.parse_launch(
        f"appsrc name=src do-timestamp=true timestamp-smoothing={mode} "
        "caps=audio/x-raw,format=S16LE,rate=48000,channels=1 ! appsink name=out sync=false"
    )
    pipeline.use_clock(clock)
    src, sink = pipeline.get("src"), pipeline.get("out")
    rng = np.random.default_rng(5)
    raw, smoothed, true = [], [], []
    with pipeline:
        pipeline.set_state(State.PLAYING)
        for k in range(1500):
            # the application pushes each period about 3 ms late, +-1 ms
            ideal = sample_time(k * PERIOD, RATE)
            clock.set_time(max(clock.now(), ideal + 3_000_000 + round(rng.normal(0, 1e6))))
            raw.append(clock.now())
            true.append(ideal)
            src.push(np.zeros((PERIOD, 1), np.int16))
            smoothed.append(sink.pull(timeout=5).pts)
    late = np.array(smoothed[-500:]) - np.array(true[-500:]) - 3_000_000
    assert np.std(np.array(raw[-500:]) - np.array(true[-500:])) > 800_000
    assert np.std(late) < 100_000
    assert abs(np.mean(late)) < 200_000


def test_appsrc_smoothing_needs_a_nominal_position():
    pipeline = parallax.parse_launch(
        "appsrc name=src timestamp-smoothing=regression ! appsink name=out sync=false"
    )
    pipeline.use_clock(ManualClock())
    src = pipeline.get("src")
    with pipeline:
        pipeline.set_state(State.PLAYING)
        src.push(b"data", pts=0)
        message = pipeline.bus.pop(timeout=5, types={parallax.MessageType.ERROR})
    assert message is not None and "timestamp-smoothing needs" in message.text


def test_appsrc_smoothing_uses_durations_when_caps_have_no_rate():
    pipeline = parallax.parse_launch(
        "appsrc name=src timestamp-smoothing=regression ! appsink name=out sync=false"
    )
    pipeline.use_clock(ManualClock())
    src, sink = pipeline.get("src"), pipeline.get("out")
    with pipeline:
        pipeline.set_state(State.PLAYING)
        for k, wobble in enumerate([0, 900, -900, 0, 900, -900, 0, 900, -900, 0, 0, 0]):
            src.push(b"x", pts=k * SECOND + wobble, duration=SECOND)
        src.end_of_stream()
        pts = [b.pts for b in iter(lambda: sink.pull(timeout=5), None)]
    assert abs(pts[-1] - 11 * SECOND) < 600  # the fit, not the last raw stamp
