"""CaptureTimeline on recorded and modelled (frames, htstamp, avail) sequences: host only."""

import itertools
import json
from pathlib import Path

import pytest

from parallax import SECOND, BufferFlags, sample_time
from parallax.elements.device.alsa_timeline import CaptureTimeline

RATE = 48000
PERIOD = 1024
BASE = 5 * SECOND  # running time 0 = MONOTONIC 5 s


def to_running(ns: int) -> int:
    return ns - BASE


class Card:
    """A capture card running at ``rate_ppm`` off nominal, started at ``start`` (MONOTONIC)."""

    def __init__(self, start: int, rate_ppm: int = 0) -> None:
        self.start = start
        self.rate_ppm = rate_ppm

    def time_of(self, frames: int) -> int:
        # MONOTONIC ns at which the card has captured `frames` frames.
        return self.start + frames * SECOND * 1_000_000 // (RATE * (1_000_000 + self.rate_ppm))


def reads(card: Card, count: int, lateness: list[int] | None = None):
    """(frames, htstamp, avail, monotonic) of `count` period reads, each `lateness[i]` frames
    after the period completed (the reader's scheduling delay)."""
    out = []
    for i in range(count):
        late = lateness[i % len(lateness)] if lateness else 0
        captured = (i + 1) * PERIOD + late
        htstamp = card.time_of(captured)
        out.append((PERIOD, htstamp, late, htstamp + 20_000))
    return out


def run(timeline, sequence):
    return [timeline.stamp(*read) for read in sequence]


def test_first_buffer_anchored_at_htstamp_minus_read_and_avail():
    timeline = CaptureTimeline(RATE, to_running)
    stamp = timeline.stamp(1024, 10 * SECOND, 100, 10 * SECOND + 50_000)
    # frame 0 was captured (1024 + 100) frames before the htstamp: floor(1124e9 / 48000) ns
    assert stamp.pts == 10 * SECOND - 23_416_666 - BASE
    assert stamp.capture.ns == 10 * SECOND - 23_416_666
    assert stamp.capture.domain.value == "monotonic"
    assert stamp.duration == sample_time(1024, RATE)
    assert (stamp.offset, stamp.offset_end) == (0, 1024)
    assert stamp.flags == BufferFlags.DISCONT  # the first buffer of a stream
    assert stamp.lost == 0


@pytest.mark.parametrize("rate", [44100, 47999, 48000, 96000])
def test_buffers_tile_exactly_and_follow_the_sample_position(rate):
    global RATE
    saved, RATE = RATE, rate
    try:
        card = Card(start=7 * SECOND + 123_457)
        stamps = run(CaptureTimeline(rate, to_running), reads(card, 500, [0, 3, 200, 17]))
    finally:
        RATE = saved
    anchor = stamps[0].pts
    for previous, current in itertools.pairwise(stamps):
        assert previous.pts + previous.duration == current.pts
        assert previous.offset_end == current.offset
        assert current.flags == BufferFlags.NONE
    for stamp in stamps:
        assert stamp.pts == anchor + sample_time(stamp.offset, rate)
    # The anchor is the card's start even though every read came late by some frames.
    assert abs(stamps[0].pts - to_running(card.start)) <= 1


def test_capture_time_of_each_buffer_comes_from_its_own_read():
    card = Card(start=SECOND, rate_ppm=100)  # a card 100 ppm fast against MONOTONIC
    stamps = run(CaptureTimeline(RATE, to_running), reads(card, 2000, [5]))
    # PTS runs at the nominal rate; the measured capture times run at the card's: after
    # 2000 periods (42.7 s) they part by ~4.3 ms, which the residual shows.
    residual_first = stamps[0].pts - to_running(stamps[0].capture.ns)
    residual_last = stamps[-1].pts - to_running(stamps[-1].capture.ns)
    assert abs(residual_first) <= 1
    drift = residual_last - residual_first
    nominal = sample_time(stamps[-1].offset, RATE)
    expected = nominal - nominal * 1_000_000 // 1_000_100  # the card's time is nominal / 1.0001
    assert abs(drift - expected) <= 2


def test_overrun_leaves_a_gap_flags_discont_and_counts_lost_frames():
    timeline = CaptureTimeline(RATE, to_running)
    card = Card(start=2 * SECOND)
    before = run(timeline, reads(card, 10))
    # The reader stalls; the stream overruns and restarts 500 ms after the last frame read.
    timeline.xrun()
    end_before = card.time_of(10 * PERIOD)
    restarted = Card(start=end_before + 500_000_000)
    after = run(timeline, reads(restarted, 5, [7]))
    first = after[0]
    assert first.flags & BufferFlags.DISCONT
    assert first.lost == 24000  # 500 ms at 48 kHz
    assert timeline.lost_frames == 24000 and timeline.xruns == 1
    assert first.offset == before[-1].offset_end + 24000
    gap = first.pts - (before[-1].pts + before[-1].duration)
    assert abs(gap - 500_000_000) <= 1
    assert after[1].flags == BufferFlags.NONE
    for previous, current in itertools.pairwise(after):
        assert previous.pts + previous.duration == current.pts


def test_overrun_without_a_gap_loses_nothing():
    timeline = CaptureTimeline(RATE, to_running)
    card = Card(start=SECOND)
    run(timeline, reads(card, 3))
    timeline.xrun()
    resumed = Card(start=card.time_of(3 * PERIOD))
    stamp = run(timeline, reads(resumed, 1))[0]
    assert stamp.flags & BufferFlags.DISCONT
    assert stamp.lost == 0
    assert stamp.offset == 3 * PERIOD


def test_zero_htstamp_anchors_from_monotonic_minus_buffered_frames():
    timeline = CaptureTimeline(RATE, to_running)
    monotonic = 9 * SECOND
    stamp = timeline.stamp(1024, 0, 476, monotonic)
    # 1024 + 476 = 1500 frames = 31.25 ms buffered before the monotonic reading
    assert stamp.pts == monotonic - 31_250_000 - BASE
    assert stamp.flags == BufferFlags.DISCONT | BufferFlags.RESYNC
    following = timeline.stamp(1024, 0, 0, monotonic + 21_333_333)
    assert following.flags == BufferFlags.RESYNC
    assert following.pts == stamp.pts + stamp.duration
    assert timeline.untimed_reads == 2


def test_rejects_a_bad_rate():
    with pytest.raises(ValueError, match="rate must be > 0"):
        CaptureTimeline(0, to_running)


RECORDED = Path(__file__).with_name("data") / "alsa_dummy_capture.json"


def test_recorded_dummy_sequence_with_an_overrun():
    """A sequence recorded in the lab VM from hw:Dummy (tests/elements/device/data)."""
    recording = json.loads(RECORDED.read_text())
    rate = recording["rate"]
    timeline = CaptureTimeline(rate, to_running)
    stamps = []
    for event in recording["events"]:
        if event == "xrun":
            timeline.xrun()
        else:
            stamps.append(timeline.stamp(*event))
    discont = [i for i, s in enumerate(stamps) if s.flags & BufferFlags.DISCONT]
    assert discont[0] == 0 and len(discont) == 2
    resumed = discont[1]
    for i in range(1, len(stamps)):
        if i != resumed:
            assert stamps[i - 1].pts + stamps[i - 1].duration == stamps[i].pts
    stall = recording["stall_ns"]
    gap = stamps[resumed].pts - (stamps[resumed - 1].pts + stamps[resumed - 1].duration)
    period_ns = sample_time(recording["period"], rate)
    # The stall (reader asleep) minus what the ring buffer held is lost; within a period.
    held = sample_time(recording["buffer"], rate)
    assert stall - held - 2 * period_ns <= gap <= stall + 2 * period_ns
    lost_ns = sample_time(stamps[resumed].lost, rate)
    assert abs(lost_ns - gap) <= SECOND // rate
    # Each buffer's own capture time stays within one period of its PTS.
    for stamp in stamps:
        assert abs(stamp.pts - to_running(stamp.capture.ns)) < period_ns
