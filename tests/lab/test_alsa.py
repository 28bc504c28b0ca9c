"""alsasrc, alsasink and AlsaClock on real kernel drivers (snd-aloop, snd-dummy) in the lab VM.

Guest time matters (Python runs ~10x slower there): captures are as short as each
acceptance allows.
"""

from __future__ import annotations

import errno
import itertools
import logging
import subprocess
import threading
import time
import wave
from fractions import Fraction

import numpy as np
import pytest

import parallax
from parallax import SECOND, BufferFlags, MessageType, PipelineError, SystemClock, sample_time
from parallax.clock import select_clock
from parallax.clock.alsa import AlsaClock
from parallax.errors import DeviceBusyError, DeviceError
from parallax.pipeline import Sink, Transform

pytestmark = pytest.mark.lab

RATE = 48000
PERIOD = 1024
DUMMY = "hw:Dummy,0,0"


class Recorder(Sink):
    """Keeps every buffer and the CLOCK_MONOTONIC time it arrived."""

    factory_name = "recorder"

    def __init__(self) -> None:
        super().__init__(sync=False)
        self.buffers: list[parallax.Buffer] = []
        self.arrivals: list[int] = []

    def render(self, buffer: parallax.Buffer) -> None:
        self.arrivals.append(time.monotonic_ns())
        self.buffers.append(buffer)


class StallOnce(Transform):
    """Blocks the streaming thread once, after `after` buffers, for `stall_ns`."""

    factory_name = "stallonce"

    def __init__(self, after: int, stall_ns: int) -> None:
        super().__init__()
        self.after, self.stall_ns, self.seen = after, stall_ns, 0
        self.stalled_for = 0

    def process(self, buffer: parallax.Buffer) -> parallax.Buffer:
        self.seen += 1
        if self.seen == self.after:
            start = time.monotonic_ns()
            time.sleep(self.stall_ns / SECOND)
            self.stalled_for = time.monotonic_ns() - start
        return buffer


def capture(device: str, buffers: int, *middle, clock=None, **properties):
    pipeline = parallax.Pipeline()
    src = parallax.make("alsasrc", device=device, num_buffers=buffers, **properties)
    recorder = Recorder()
    pipeline.link(src, *middle, recorder)
    if clock is not None:
        pipeline.use_clock(clock)
    pipeline.run(timeout=60)
    return pipeline, src, recorder


def assert_tiles(buffers):
    for previous, current in itertools.pairwise(buffers):
        if not current.flags & BufferFlags.DISCONT:
            assert previous.pts + previous.duration == current.pts
            assert previous.offset_end == current.offset


def fitted_rate(x_ns: list[int], positions: list[int]) -> Fraction:
    """Least-squares frames per second of positions against times (exact)."""
    n = len(x_ns)
    x0, p0 = x_ns[0], positions[0]
    xs = [x - x0 for x in x_ns]
    ps = [p - p0 for p in positions]
    sx, sp = sum(xs), sum(ps)
    sxx = sum(x * x for x in xs)
    sxp = sum(x * p for x, p in zip(xs, ps, strict=True))
    return Fraction(n * sxp - sx * sp, n * sxx - sx * sx) * SECOND


def test_loopback_capture_of_a_played_tone(tmp_path):
    """Acceptance 1: aplay -> hw:Loopback,0,0 -> alsasrc hw:Loopback,1,0, 5 s."""
    seconds = 8
    t = np.arange(seconds * RATE)
    tone = np.round(0.5 * 32767 * np.sin(2 * np.pi * 1000 * t / RATE)).astype("<i2")
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.repeat(tone[:, None], 2, axis=1).tobytes())
    player = subprocess.Popen(["aplay", "-q", "-D", "hw:Loopback,0,0", str(path)])
    try:
        time.sleep(0.3)  # aplay has opened the loopback and fixed its format
        count = -(-5 * RATE // PERIOD)  # 5 s of periods
        pipeline, src, recorder = capture("hw:Loopback,1,0", count, period_size=PERIOD, periods=8)
    finally:
        player.kill()
        player.wait(10)
    # With no audio sink, alsasrc's capture clock runs the pipeline.
    assert isinstance(pipeline.clock, AlsaClock)
    assert pipeline.clock.name == "alsa:hw:Loopback,1,0"
    assert pipeline.clock.monotonic.estimator.accepted >= 2
    buffers = recorder.buffers
    assert len(buffers) == count
    assert all(b.data.shape == (PERIOD, 2) and b.data.dtype == np.int16 for b in buffers)
    assert_tiles(buffers)
    span = buffers[-1].pts + buffers[-1].duration - buffers[0].pts
    assert abs(span - 5 * SECOND) <= 5 * SECOND // 100 + sample_time(PERIOD, RATE)
    # PTS advance with wall time: arrivals of the first and last buffer, within 1%.
    pts_span = buffers[-1].pts - buffers[0].pts
    wall = recorder.arrivals[-1] - recorder.arrivals[0]
    assert abs(pts_span - wall) <= pts_span // 100, (pts_span, wall)
    # The tone comes back at 1000 Hz (FFT peak over the last 4 s; the start may be silence).
    samples = np.concatenate([b.data[:, 0] for b in buffers])[-4 * RATE :].astype(float)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    peak = np.fft.rfftfreq(len(samples), 1 / RATE)[int(np.argmax(spectrum))]
    assert abs(peak - 1000) <= 1, peak
    assert src.lost_frames == 0 or any(b.flags & BufferFlags.DISCONT for b in buffers[1:])


def test_dummy_capture_rate_and_residual():
    """Acceptance 2: hw:Dummy, PTS against sample position and against htstamps."""
    count = 100  # 2.1 s
    # A deep ring buffer (12 periods, 256 ms): the loaded guest must not overrun here.
    pipeline, _, recorder = capture(
        DUMMY, count, clock=SystemClock(), period_size=PERIOD, periods=12
    )
    buffers = recorder.buffers
    assert len(buffers) == count
    assert not any(b.flags & BufferFlags.DISCONT for b in buffers[1:])
    assert_tiles(buffers)
    offsets = [b.offset for b in buffers]
    pts_rate = fitted_rate([b.pts for b in buffers], offsets)
    capture_rate = fitted_rate([b.capture.ns for b in buffers], offsets)
    assert abs(pts_rate - RATE) <= Fraction(RATE * 50, 10**6)
    assert abs(capture_rate - RATE) <= Fraction(RATE * 50, 10**6), float(capture_rate)
    period_ns = sample_time(PERIOD, RATE)
    residuals = [b.pts - (b.capture.ns - pipeline.base_time) for b in buffers]
    assert max(abs(r) for r in residuals) < period_ns, residuals


def test_forced_overrun_is_a_flagged_gap_with_counted_frames():
    """Acceptance 3: the reader stalls 500 ms."""
    stall = StallOnce(after=10, stall_ns=500_000_000)
    pipeline, src, recorder = capture(DUMMY, 25, stall, clock=SystemClock(), period_size=PERIOD)
    buffers = recorder.buffers
    assert len(buffers) == 25
    discont = [i for i, b in enumerate(buffers) if b.flags & BufferFlags.DISCONT]
    assert discont[0] == 0 and len(discont) == 2, discont
    resumed = discont[1]
    before, after = buffers[resumed - 1], buffers[resumed]
    gap = after.pts - (before.pts + before.duration)
    period_ns = sample_time(PERIOD, RATE)
    ring_ns = sample_time(PERIOD * 4, RATE)
    # Lost: the stall, less what the ring buffer still held when reading stopped.
    assert stall.stalled_for - ring_ns - period_ns <= gap <= stall.stalled_for + 2 * period_ns
    assert src.lost_frames == after.offset - before.offset_end
    assert abs(sample_time(src.lost_frames, RATE) - gap) <= period_ns
    warnings = pipeline.bus.messages(MessageType.WARNING)
    assert any("overrun" in m.text and m.data["lost_frames"] == src.lost_frames for m in warnings)
    assert_tiles(buffers)


def test_alsasink_clock_drives_the_pipeline(caplog):
    """Acceptance 4: audiotestsrc ! alsasink selects alsa:hw:Dummy,0,0; video runs on it."""
    pipeline = parallax.parse_launch(
        f"audiotestsrc num-buffers=60 ! alsasink name=out device={DUMMY} periods=8 "
        "videotestsrc num-buffers=15 ! fakesink name=video sync=true"
    )
    with caplog.at_level(logging.INFO, logger="parallax.pipeline"):
        start = time.monotonic_ns()
        pipeline.run(timeout=60)
        elapsed = time.monotonic_ns() - start
    assert f"Pipeline clock: alsa:{DUMMY} (priority 100)" in caplog.text
    (selected,) = pipeline.bus.messages(MessageType.CLOCK_SELECTED)
    clock = selected.data["clock"]
    assert isinstance(clock, AlsaClock) and clock.name == f"alsa:{DUMMY}"
    assert selected.data["provider"] is pipeline.get("out")
    assert pipeline.clock is clock
    sink, video = pipeline.get("out"), pipeline.get("video")
    # Every buffer was played, or dropped as late with a QOS message (the slow guest can let
    # the card run dry: the stream restarts behind its times and drops until it catches up).
    qos = pipeline.bus.messages(MessageType.QOS)
    assert sink.rendered + sink.dropped == 60
    assert len([m for m in qos if m.source == "out" and m.data["dropped"]]) == sink.dropped
    assert sink.rendered > 0
    if sink.dropped:
        assert sink.underruns > 0
        assert any("underrun" in m.text for m in pipeline.bus.messages(MessageType.WARNING))
    assert video.rendered == 15
    # The card drove the clock (calibration pairs came from its position) ...
    assert clock.monotonic.estimator.accepted >= 2
    # ... and the audio took its real duration: 60 * 1024 frames = 1.28 s, paced by the card.
    assert elapsed >= sample_time(60 * 1024, RATE) - 200_000_000


def test_alsasrc_leaves_the_clock_to_an_audio_sink():
    pipeline = parallax.parse_launch(
        "alsasrc name=src device=hw:Loopback,1,1 ! alsasink name=out device=hw:Loopback,0,1"
    )
    with pipeline:
        pipeline.set_state(parallax.State.PAUSED)  # both PCMs open, format negotiated
        src, out = pipeline.get("src"), pipeline.get("out")
        assert src.provide_clock() is None
        clock, provider = select_clock([src, out])
        assert provider is out and clock.name == "alsa:hw:Loopback,0,1"


def test_unknown_device_lists_the_cards():
    with pytest.raises(DeviceError) as caught:
        parallax.make("alsasrc", device="hw:Nope,0,0").open()
    assert isinstance(caught.value, FileNotFoundError)
    assert "Loopback" in str(caught.value) and "Dummy" in str(caught.value)


@pytest.mark.parametrize(
    ("properties", "wanted"),
    [({"rate": 96000}, "rates 5500-48000"), ({"format": "F32LE"}, "formats S16LE")],
)
def test_unsupported_format_lists_what_the_card_takes(properties, wanted):
    src = parallax.make("alsasrc", device=DUMMY, **properties)
    with pytest.raises(DeviceError) as caught:
        src.open()
    assert caught.value.errno == errno.EINVAL
    assert wanted in str(caught.value) and src.name in str(caught.value)


def test_unsupported_format_on_the_sink_fails_the_pipeline_start():
    pipeline = parallax.parse_launch(
        f"audiotestsrc num-buffers=1 ! audio/x-raw,format=F32LE ! alsasink device={DUMMY}"
    )
    with pytest.raises(DeviceError, match="formats S16LE"):
        pipeline.set_state(parallax.State.PLAYING)
    assert pipeline.state == parallax.State.NULL


def test_busy_device():
    first = parallax.make("alsasrc", device=DUMMY)
    first.open()
    try:
        with pytest.raises(DeviceBusyError, match="another stream holds it"):
            parallax.make("alsasrc", device=DUMMY).open()
    finally:
        first.close()


def test_pcm_closed_from_another_thread_fails_the_pipeline_without_hanging():
    pipeline = parallax.Pipeline()
    src = parallax.make("alsasrc", device=DUMMY, period_size=PERIOD)
    sink = parallax.make("appsink")
    pipeline.link(src, sink)
    pipeline.set_state(parallax.State.PLAYING)
    try:
        assert sink.pull(timeout=10) is not None
        threading.Thread(target=src.pcm.close).start()
        start = time.monotonic()
        with pytest.raises(PipelineError) as caught:
            while sink.pull(timeout=10) is not None:
                pass
        assert time.monotonic() - start < 10
    finally:
        pipeline.set_state(parallax.State.NULL)
    assert isinstance(caught.value.__cause__, DeviceError)
    assert caught.value.__cause__.errno == errno.ENODEV
