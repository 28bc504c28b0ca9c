"""Live test sources pace themselves on the pipeline clock (ManualClock: exact, no sleeping)."""

import time

import numpy as np
import pytest

import parallax
from parallax import SECOND, ManualClock, Metadata, State
from parallax.time import sample_time, scale


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.001)


def frame_pts(n: int) -> int:
    return n * SECOND // 30


def test_live_videotestsrc_one_frame_per_frame_interval_exactly():
    clock = ManualClock(start=5_000)
    pipeline = parallax.parse_launch(
        "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=30/1 "
        "! appsink name=out sync=false"
    )
    pipeline.use_clock(clock)
    sink = pipeline.get("out")
    with pipeline:
        pipeline.set_state(State.PLAYING)
        assert pipeline.base_time == 5_000
        assert sink.pull(timeout=5).pts == 0
        for n in range(1, 40):
            step = frame_pts(n) - frame_pts(n - 1)
            assert step in (33_333_333, 33_333_334)
            assert clock.wait_for_pending(1) == [5_000 + frame_pts(n)]
            clock.advance(step - 1)
            with pytest.raises(TimeoutError):
                sink.pull(timeout=0.01)  # one ns early: nothing yet
            clock.advance(1)
            buffer = sink.pull(timeout=5)
            assert buffer.pts == frame_pts(n) == scale(n, SECOND, 30)
            assert buffer.duration == frame_pts(n + 1) - frame_pts(n)
            assert buffer.offset == n
            clock.wait_for_pending(1)  # the source blocks on frame n + 1 ...
            with pytest.raises(TimeoutError):
                sink.pull(timeout=0)  # ... and made exactly one frame


def test_live_audiotestsrc_buffers_come_at_their_end_and_tile():
    clock = ManualClock()
    pipeline = parallax.parse_launch(
        "audiotestsrc is-live=true samplesperbuffer=441 ! audio/x-raw,rate=44100,channels=1 "
        "! appsink name=out sync=false"
    )
    pipeline.use_clock(clock)
    sink = pipeline.get("out")
    with pipeline:
        pipeline.set_state(State.PLAYING)
        previous_end = 0
        for n in range(25):
            end = sample_time((n + 1) * 441, 44100)
            assert clock.wait_for_pending(1) == [end]
            with pytest.raises(TimeoutError):
                sink.pull(timeout=0)
            clock.set_time(end)
            buffer = sink.pull(timeout=5)
            assert buffer.pts == previous_end == sample_time(n * 441, 44100)
            assert buffer.pts + buffer.duration == end
            assert buffer.data.shape == (441, 1)
            previous_end = end


def test_sync_sink_renders_only_after_clock_passes_base_time_plus_pts():
    clock = ManualClock(start=1_000_000)
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", caps="video/x-raw,format=GRAY8,width=1,height=1,framerate=0/1")
    sink = parallax.make("appsink", sync=True)
    pipeline.link(src, sink)
    pipeline.use_clock(clock)
    with pipeline:
        pipeline.set_state(State.PLAYING)
        for pts in (0, 40_000_000, 80_000_001):
            src.push(parallax.Buffer(np.zeros((1, 1), np.uint8), Metadata(pts=pts)))
        for pts in (0, 40_000_000, 80_000_001):
            if pts:
                assert clock.wait_for_pending(1) == [1_000_000 + pts]
                clock.set_time(1_000_000 + pts - 1)
                with pytest.raises(TimeoutError):
                    sink.pull(timeout=0.02)
                clock.advance(1)
            assert sink.pull(timeout=5).pts == pts
        assert sink.late == 0
        assert sink.rendered == 3


def test_pause_keeps_running_time_continuous():
    clock = ManualClock()
    pipeline = parallax.parse_launch(
        "videotestsrc is-live=true ! video/x-raw,width=8,height=8,framerate=10/1 "
        "! appsink name=out sync=false"
    )
    pipeline.use_clock(clock)
    sink = pipeline.get("out")
    with pipeline:
        pipeline.set_state(State.PLAYING)
        assert sink.pull(timeout=5).pts == 0
        clock.crank()
        assert sink.pull(timeout=5).pts == 100_000_000
        clock.advance(30_000_000)  # running time 130 ms
        pipeline.set_state(State.PAUSED)
        wait_for(lambda: clock.pending == [])  # the source noticed the pause
        clock.advance(10 * SECOND)  # paused for 10 s: not running time
        pipeline.set_state(State.PLAYING)
        assert pipeline.base_time == 10 * SECOND
        assert pipeline.running_time() == 130_000_000
        assert clock.wait_for_pending(1) == [10 * SECOND + 200_000_000]
        clock.crank()
        assert sink.pull(timeout=5).pts == 200_000_000


@pytest.mark.slow
def test_real_clock_five_seconds_live_at_30fps():
    pipeline = parallax.parse_launch(
        "videotestsrc is-live=true num-buffers=150 ! video/x-raw,width=160,height=120,"
        "framerate=30/1 ! timestampdebug name=dbg ! appsink name=out"
    )
    start = time.monotonic()
    pipeline.set_state(State.PLAYING)
    buffers = list(pipeline.get("out"))
    wall = time.monotonic() - start
    pipeline.set_state(State.NULL)
    assert len(buffers) == 150
    assert buffers[-1].pts == 149 * SECOND // 30
    assert [b.pts for b in buffers] == [frame_pts(n) for n in range(150)]
    assert 4.9 <= wall < 8.0
    stats = pipeline.get("dbg").stats
    assert stats.gaps == 0 and stats.non_monotonic == 0


@pytest.mark.parametrize("max_lateness", [-1, 5_500_000_000])
def test_late_buffers_are_rendered_and_reported_or_dropped(max_lateness):
    clock = ManualClock(start=0)
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", max_buffers=0)
    sink = parallax.make("appsink", sync=True, max_lateness=max_lateness)
    pipeline.link(src, sink)
    pipeline.use_clock(clock)
    step = SECOND // 2
    with pipeline:
        pipeline.set_state(State.PLAYING)
        clock.set_time(8 * SECOND)  # every buffer below arrives late
        for n in range(9):
            src.push(parallax.Buffer(np.zeros(1), Metadata(pts=n * step)))
        src.end_of_stream()
        rendered = [b.pts for b in sink]
    qos = pipeline.bus.messages(parallax.MessageType.QOS)
    if max_lateness < 0:
        assert rendered == [n * step for n in range(9)]
        assert sink.late == 9 and sink.dropped == 0
        # rendered late: one report per second of stream time
        assert [m.data["pts"] for m in qos] == [0, SECOND, 2 * SECOND, 3 * SECOND, 4 * SECOND]
        assert not any(m.data["dropped"] for m in qos)
        assert sink.max_late_ns == 8 * SECOND
    else:
        assert rendered == [n * step for n in range(5, 9)]  # at most 5.5 s late
        assert sink.dropped == 5
        assert [m.data["pts"] for m in qos if m.data["dropped"]] == [n * step for n in range(5)]
