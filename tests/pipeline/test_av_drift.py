"""Long-run A/V sync: 90 minutes of a sound card 80 ppm fast, simulated on a ManualClock.

The simulated card behaves like alsasrc with hardware timestamps: it counts samples on its
own crystal (48 kHz nominal, 48003.84 Hz true), delivers each period once its last sample
was captured (waiting on the pipeline clock), and stamps it with the MONOTONIC capture time
of its first sample (with timestamping jitter) and its device sample position. A "flash"
video source shows the same events on the system clock. The sinks measure where each audio
event lands when the audio is played by sample count, as a player or muxer does.
"""

from __future__ import annotations

import contextlib
import math
import time

import numpy as np
import pytest

import parallax
from parallax import SECOND, ManualClock, MessageType, Metadata, Pipeline, State
from parallax.buffer import Buffer
from parallax.caps import AUDIO_RAW, AudioFormat, Caps
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Pad, Sink, Source
from parallax.time import MSECOND, CaptureTime, ClockDomain, sample_time, scale

RATE = 48_000
PPM = 80
MINUTES = 90
EVENT_INTERVAL = 10 * SECOND  # one clapperboard event every 10 s of system time
BURST_HALF_WIDTH = 0.002  # s: Hann-windowed 1 kHz burst, 4 ms long


def event_times(duration: int) -> list[int]:
    """Running times (system clock) of the events: the middle of every interval."""
    return list(range(EVENT_INTERVAL // 2, duration, EVENT_INTERVAL))


class DriftingCardSrc(Source):
    """A simulated sound card whose crystal runs ``ppm`` fast, read as alsasrc reads one.

    Device sample ``p`` is captured at MONOTONIC ``start + p * 1e15 / (rate * (1e6 + ppm))``
    ns (exact), where ``start`` is the base time: the card starts with the pipeline.
    """

    is_live = True

    def __init__(
        self, *, duration: int, period: int, ppm: int = PPM, jitter_ns: int = 200_000, seed=1
    ) -> None:
        super().__init__("card")
        self.duration, self.period, self.ppm, self.jitter_ns = duration, period, ppm, jitter_ns
        self.rng = np.random.default_rng(seed)
        self.position = 0
        # each event's position on the card, in samples (content, not a timestamp)
        self.device_rate = RATE * (1 + ppm * 1e-6)
        self.centers = np.array(event_times(duration), dtype=np.float64) * 1e-9 * self.device_rate

    def src_caps(self, pad: Pad) -> Caps:
        return Caps.of(AUDIO_RAW, format="S16LE", rate=RATE, channels=1)

    def format_from_structure(self, structure):
        return AudioFormat.from_structure(structure)

    def device_time(self, position: int) -> int:
        """Running time at which the card captured sample ``position``, ns (exact)."""
        return scale(position, 10**15, RATE * (10**6 + self.ppm))

    @property
    def latency(self) -> int:
        return sample_time(self.period, RATE)

    def produce(self, context: ProduceContext) -> Buffer | None:
        start, count = self.position, self.period
        if self.device_time(start) >= self.duration:
            return None
        if not context.wait_running_time(self.device_time(start + count)):
            return None  # stopping
        self.position += count
        jitter = round(self.rng.normal(0.0, self.jitter_ns))
        capture = CaptureTime(ClockDomain.MONOTONIC, context.base_time + self.device_time(start))
        capture = capture._replace(ns=capture.ns + jitter)
        meta = Metadata(
            pts=context.to_running_time(capture),
            offset=start,
            offset_end=start + count,
            capture=capture,
        )
        return Buffer(self.samples(start, count), meta)

    def samples(self, start: int, count: int) -> np.ndarray:
        data = np.zeros((count, 1), np.int16)
        device_rate, reach = self.device_rate, BURST_HALF_WIDTH * self.device_rate
        lo, hi = np.searchsorted(self.centers, [start - reach, start + count + reach])
        for center in self.centers[lo:hi]:
            first = max(start, math.ceil(center - reach))
            last = min(start + count, math.floor(center + reach) + 1)
            if first >= last:
                continue
            u = (np.arange(first, last) - center) / device_rate  # s from the event (true)
            burst = 0.5 * (1 + np.cos(np.pi * u / BURST_HALF_WIDTH)) * np.cos(2e3 * np.pi * u)
            data[first - start : last - start, 0] = np.round(0.5 * 32767 * burst)
        return data


class FlashSrc(Source):
    """A video source on the system clock: one frame per event, stamped at capture."""

    is_live = True

    def __init__(self, *, duration: int) -> None:
        super().__init__("camera")
        self.events = iter(event_times(duration))

    def produce(self, context: ProduceContext) -> Buffer | None:
        event = next(self.events, None)
        if event is None or not context.wait_running_time(event):
            return None
        capture = CaptureTime(ClockDomain.MONOTONIC, context.base_time + event)
        return Buffer(b"\xff", Metadata(pts=context.to_running_time(capture), capture=capture))


class EventSink(Sink):
    """Plays audio by sample count and finds each event's energy centroid on that timeline.

    Also checks that every buffer's PTS is where its first sample falls by sample count.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name, sync=False)
        self.samples = 0
        self.first_pts: int | None = None
        self.pts_mismatch = 0  # largest |PTS - first PTS - sample_time(samples before)|, ns
        self.energy = np.zeros(1024)
        self.moment = np.zeros(1024)

    def render(self, buffer: Buffer) -> None:
        if self.first_pts is None:
            self.first_pts = buffer.pts
        by_count = self.first_pts + sample_time(self.samples, RATE)
        self.pts_mismatch = max(self.pts_mismatch, abs(buffer.pts - by_count))
        x = buffer.data[:, 0].astype(np.float64)
        loud = np.flatnonzero(np.abs(x) > 30)
        if loud.size:
            # time of each loud sample when played by sample count, ns from first_pts
            t = (self.samples + loud) * (SECOND / RATE)
            event = np.rint((t - EVENT_INTERVAL / 2) / EVENT_INTERVAL).astype(np.int64)
            e = x[loud] ** 2
            self.energy += np.bincount(event, e, minlength=1024)[:1024]
            self.moment += np.bincount(event, e * t, minlength=1024)[:1024]
        self.samples += len(x)

    def event_times(self) -> np.ndarray:
        """Running time of each event as heard by sample count, ns (float)."""
        heard = self.energy > 0
        return self.first_pts + self.moment[heard] / self.energy[heard]


class FlashSink(Sink):
    def __init__(self) -> None:
        super().__init__("flashes", sync=False)
        self.pts: list[int] = []

    def render(self, buffer: Buffer) -> None:
        self.pts.append(buffer.pts)


def run_simulated_capture(
    *,
    resample: bool,
    minutes: int = MINUTES,
    period: int = RATE,
    jitter_ns: int = 200_000,
    compensate: bool = True,
):
    duration = minutes * 60 * SECOND
    clock = ManualClock(start=10**15)  # ~11.6 days of uptime: large MONOTONIC values
    pipeline = Pipeline()
    card, camera = (
        DriftingCardSrc(duration=duration, period=period, jitter_ns=jitter_ns),
        FlashSrc(duration=duration),
    )
    audio, video = EventSink("audio"), FlashSink()
    if resample:
        # default quality: 259 M samples in ~6-9 s of wall time (quality=fast: ~4 s)
        resampler = parallax.make("audioresample", name="resample", drift_compensation=compensate)
        pipeline.add(card, resampler, audio, camera, video)
        pipeline.link(card, resampler, audio)
    else:
        resampler = None
        pipeline.add(card, audio, camera, video)
        pipeline.link(card, audio)
    pipeline.link(camera, video)
    pipeline.use_clock(clock)
    with pipeline:
        pipeline.set_state(State.PLAYING)
        deadline = time.monotonic() + 120
        while pipeline.bus.pop(timeout=0, types={MessageType.EOS, MessageType.ERROR}) is None:
            assert time.monotonic() < deadline, "simulated capture did not finish"
            with contextlib.suppress(TimeoutError):
                clock.crank(timeout=0.05)
        error = pipeline._error
    assert error is None, error
    return card, resampler, audio, video, duration


def av_offsets_for(audio: EventSink, video: FlashSink, minutes: int) -> np.ndarray:
    """A/V offset of every event: heard (audio by sample count) minus seen (video PTS), ns."""
    heard = audio.event_times()
    assert len(heard) == len(video.pts) == len(event_times(minutes * 60 * SECOND))
    return heard - np.array(video.pts, dtype=np.float64)


def av_offsets(audio: EventSink, video: FlashSink) -> np.ndarray:
    return av_offsets_for(audio, video, MINUTES)


@pytest.mark.slow
def test_90_minutes_80_ppm_with_audioresample_stays_within_1_ms():
    started = time.monotonic()
    card, resampler, audio, video, _ = run_simulated_capture(resample=True)
    offsets = av_offsets(audio, video)
    # A/V offset at the end (and everywhere after the first minute) below 1 ms
    assert abs(offsets[-1]) < 1 * MSECOND, offsets[-1]
    assert np.abs(offsets[6:]).max() < 1 * MSECOND, np.abs(offsets[6:]).max()
    # the measured drift is the card's
    assert resampler.ppm == pytest.approx(PPM, abs=2)  # 120 s window, 200 us jitter: 0.5 ppm SE
    assert resampler.restarts == 0
    # PTS and sample count agree exactly; the count matches the nominal rate over the
    # system time the card captured, within 1 sample per second of content
    assert audio.pts_mismatch == 0
    content = card.device_time(card.position) / SECOND  # s of system time captured
    surplus = audio.samples - RATE * content
    assert abs(surplus) <= content, surplus
    assert card.position - RATE * content > 3 * content  # the card made 80 ppm more
    wall = time.monotonic() - started
    print(
        f"\n90 min at +{PPM} ppm with audioresample: end offset {offsets[-1] / 1e3:.1f} us, "
        f"max after 1 min {np.abs(offsets[6:]).max() / 1e3:.1f} us, samples "
        f"{surplus:+.1f} vs nominal, measured {resampler.ppm:.3f} ppm, "
        f"wall {wall:.1f} s"
    )


@pytest.mark.slow
def test_90_minutes_80_ppm_without_audioresample_drifts_430_ms():
    card, _, audio, video, _ = run_simulated_capture(resample=False)
    offsets = av_offsets(audio, video)
    # played by sample count, the audio runs late by 80 ppm of the elapsed time: each
    # event is heard 80e-6 * t after its video frame, 432 ms after 90 minutes
    expected = PPM * 1e-6 * np.array(video.pts, dtype=np.float64)
    assert np.abs(offsets - expected).max() < 1 * MSECOND
    assert 420 * MSECOND < offsets[-1] < 440 * MSECOND, offsets[-1]
    content = card.device_time(card.position) / SECOND
    surplus = audio.samples - RATE * content
    assert surplus > 3 * content  # 3.84 extra samples per second: far off nominal
    print(f"\nwithout audioresample: end offset {offsets[-1] / 1e6:.1f} ms, {surplus:+.0f} samples")
