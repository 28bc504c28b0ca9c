"""Core, app and aggregator elements: queue limits and leaks, appsrc/appsink, DTS interleave."""

import threading
import time

import numpy as np
import pytest

import parallax
from parallax import Buffer, ManualClock, MessageType, Metadata, PipelineError, State
from parallax.elements import FACTORIES
from parallax.pipeline import Aggregator


def push_numbered(src, count: int, step: int = 10) -> None:
    for n in range(count):
        src.push(Buffer(np.full(1, n, np.int32), Metadata(pts=n * step, duration=step)))


def received_numbers(sink) -> list[int]:
    return [int(b.data[0]) for b in sink]


class Gate(parallax.pipeline.Transform):
    """Blocks the stream until opened: lets a queue fill up deterministically."""

    factory_name = "gate"

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.open_event = threading.Event()

    def process(self, buffer):
        self.entered.set()
        self.open_event.wait(10)
        return buffer


@pytest.mark.parametrize(
    ("leaky", "expected"),
    [("upstream", [0, 1, 2, 3]), ("downstream", [0, 7, 8, 9])],
)
def test_leaky_queue_drops_are_counted_and_reported(leaky, expected):
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", max_buffers=0)
    queue = parallax.make("queue", max_size_buffers=3, leaky=leaky)
    gate = Gate()
    sink = parallax.make("appsink")
    pipeline.link(src, queue, gate, sink)
    with pipeline:
        pipeline.set_state(State.PLAYING)
        src.push(Buffer(np.full(1, 0, np.int32), Metadata(pts=0)))
        assert gate.entered.wait(5)  # buffer 0 is held by the gate, the queue is empty
        for n in range(1, 10):
            src.push(Buffer(np.full(1, n, np.int32), Metadata(pts=n * 10)))
        deadline = time.monotonic() + 5
        while queue.dropped < 6 and time.monotonic() < deadline:
            time.sleep(0.001)
        gate.open_event.set()
        src.end_of_stream()
        assert received_numbers(sink) == expected
    assert queue.dropped == 6
    dropped = [m for m in pipeline.bus.messages(MessageType.QOS) if m.data["dropped"]]
    assert len(dropped) == 6


def test_queue_max_size_time_blocks_upstream_without_loss():
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", max_buffers=0)
    queue = parallax.make("queue", max_size_buffers=0, max_size_time=25)
    sink = parallax.make("appsink")
    pipeline.link(src, queue, sink)
    with pipeline:
        pipeline.set_state(State.PLAYING)
        push_numbered(src, 50)
        src.end_of_stream()
        assert received_numbers(sink) == list(range(50))
    assert queue.dropped == 0


def test_appsrc_do_timestamp_stamps_running_time_at_push():
    clock = ManualClock(start=1_000)
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", do_timestamp=True)
    sink = parallax.make("appsink", sync=False)
    pipeline.link(src, sink)
    pipeline.use_clock(clock)
    with pipeline:
        pipeline.set_state(State.PLAYING)
        src.push(np.zeros(1))
        clock.advance(500)
        src.push(np.zeros(1))
        src.push(np.zeros(1), pts=7)  # an explicit PTS wins
        src.end_of_stream()
        assert [b.pts for b in sink] == [0, 500, 7]


def test_appsrc_refuses_bad_data_and_full_queue():
    src = parallax.make("appsrc", max_buffers=1, block=False)
    with pytest.raises(TypeError, match="numpy array, bytes or a Buffer"):
        src.push([1, 2, 3])
    src.push(b"x")
    with pytest.raises(PipelineError, match="queue full"):
        src.push(b"y")


def test_appsrc_hands_queued_buffers_over_in_batches_in_order():
    """More than one batch queued ahead, the end of stream inside the last batch: every
    buffer arrives once, in order, and the stream then ends."""
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", max_buffers=0)
    middle = parallax.make("identity")
    sink = parallax.make("appsink", sync=False)
    pipeline.link(src, middle, sink)
    count = 2 * src.BATCH + 5
    with pipeline:
        push_numbered(src, count)
        src.end_of_stream()
        pipeline.set_state(State.PLAYING)
        assert received_numbers(sink) == list(range(count))
        assert sink.rendered == count


def test_appsrc_push_after_the_end_was_streamed_raises():
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc")
    sink = parallax.make("appsink", sync=False)
    pipeline.link(src, sink)
    with pipeline:
        pipeline.set_state(State.PLAYING)
        src.push(np.zeros(1))
        src.end_of_stream()
        assert pipeline.bus.pop(10, types={MessageType.EOS}) is not None
        with pytest.raises(PipelineError, match="after end_of_stream"):
            src.push(np.zeros(1))  # would be lost silently


class Trip(parallax.pipeline.Transform):
    """Holds buffer number `at` until released, so a test can pause mid-batch."""

    factory_name = "trip"

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at
        self.reached = threading.Event()
        self.release = threading.Event()

    def process(self, buffer):
        if int(buffer.data[0]) == self.at:
            self.reached.set()
            self.release.wait(10)
        return buffer


def tripped_pipeline(at: int, count: int):
    """appsrc (``count`` numbered buffers queued before PLAYING) -> Trip(at) -> appsink."""
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", max_buffers=0)
    trip = Trip(at)
    sink = parallax.make("appsink", sync=False)
    pipeline.link(src, trip, sink)
    push_numbered(src, count)
    src.end_of_stream()
    return pipeline, trip, sink


def test_pause_inside_a_batch_holds_the_rest_until_playing():
    pipeline, trip, sink = tripped_pipeline(at=10, count=100)  # more than one batch
    with pipeline:
        pipeline.set_state(State.PLAYING)
        assert trip.reached.wait(10)
        pipeline.set_state(State.PAUSED)
        trip.release.set()
        deadline = time.monotonic() + 10
        while sink.rendered < 11 and time.monotonic() < deadline:
            time.sleep(0.01)  # buffer 10 goes on: it was past the check
        time.sleep(0.3)
        assert sink.rendered == 11  # 0..10: the rest of the batch waits for PLAYING
        pipeline.set_state(State.PLAYING)
        assert received_numbers(sink) == list(range(100))


def test_stop_inside_a_batch_does_not_stream_the_rest():
    pipeline, trip, sink = tripped_pipeline(at=3, count=50)
    pipeline.set_state(State.PLAYING)
    assert trip.reached.wait(10)
    stopper = threading.Thread(target=pipeline.set_state, args=(State.NULL,))
    stopper.start()
    deadline = time.monotonic() + 10
    while not pipeline.stopping and time.monotonic() < deadline:
        time.sleep(0.01)  # until teardown has begun (it then waits for the streaming thread)
    assert pipeline.stopping
    trip.release.set()
    stopper.join(10)
    assert not stopper.is_alive()
    assert sink.rendered == 4  # 0..3; the other 46 of the batch are flushed, not streamed


class Burst(parallax.pipeline.Source):
    """A source whose produce() returns lists: a burst of three, then one, then the end."""

    factory_name = "burst"

    def __init__(self) -> None:
        super().__init__()
        self.batches = [
            [Buffer(np.zeros(1), Metadata(pts=n)) for n in (0, 1, 2)],
            Buffer(np.zeros(1), Metadata(pts=3)),
        ]

    def produce(self, context):
        return self.batches.pop(0) if self.batches else None


def test_source_may_produce_a_list_of_buffers():
    pipeline = parallax.Pipeline()
    sink = parallax.make("appsink", sync=False)
    pipeline.link(Burst(), sink)
    with pipeline:
        pipeline.set_state(State.PLAYING)
        assert [b.pts for b in sink] == [0, 1, 2, 3]


def test_appsink_drop_keeps_newest_and_counts():
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", max_buffers=0)
    sink = parallax.make("appsink", max_buffers=2, drop=True)
    pipeline.link(src, sink)
    with pipeline:
        push_numbered(src, 6)
        src.end_of_stream()
        pipeline.set_state(State.PLAYING)
        assert pipeline.bus.pop(10, types={MessageType.EOS}) is not None
        assert received_numbers(sink) == [4, 5]
    assert sink.overflowed == 4


def test_appsink_blocking_limit_loses_nothing():
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", max_buffers=0)
    sink = parallax.make("appsink", max_buffers=2)
    pipeline.link(src, sink)
    with pipeline:
        push_numbered(src, 30)
        src.end_of_stream()
        pipeline.set_state(State.PLAYING)
        time.sleep(0.05)
        assert len(sink._queue) <= 2
        assert received_numbers(sink) == list(range(30))


class Collect(Aggregator):
    factory_name = "collect"

    def __init__(self, **properties) -> None:
        super().__init__(**properties)
        self.order: list[tuple[str, int]] = []
        self.finished = False

    def aggregate(self, pad, buffer):
        self.order.append((pad.name, buffer.pts))

    def finish(self):
        self.finished = True
        return ()


def test_aggregator_interleaves_inputs_by_dts():
    pipeline = parallax.Pipeline()
    video, audio = parallax.make("appsrc"), parallax.make("appsrc")
    collect = Collect()
    pipeline.link(video, collect)
    pipeline.link(audio, collect)
    for n in range(5):
        video.push(Buffer(b"v", Metadata(pts=n * 40)))
    for n in range(10):
        audio.push(Buffer(b"a", Metadata(pts=n * 20 + 5)))
    video.end_of_stream()
    audio.end_of_stream()
    pipeline.run(timeout=10)
    times = [pts for _, pts in collect.order]
    assert times == sorted(times)
    assert len(collect.order) == 15
    assert collect.finished


def test_aggregator_does_not_wait_forever_for_a_stalled_input():
    pipeline = parallax.Pipeline()
    video, stalled = parallax.make("appsrc"), parallax.make("appsrc")
    collect = Collect(latency=50_000_000)
    pipeline.link(video, collect)
    pipeline.link(stalled, collect)
    with pipeline:
        pipeline.set_state(State.PLAYING)
        for n in range(3):
            video.push(Buffer(b"v", Metadata(pts=n)))
        deadline = time.monotonic() + 5
        while len(collect.order) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert [pts for _, pts in collect.order] == [0, 1, 2]  # went on after 50 ms


def test_references_build_branches_into_an_aggregator(monkeypatch):
    monkeypatch.setitem(FACTORIES, "collect", f"{__name__}:Collect")
    pipeline = parallax.parse_launch(
        "videotestsrc num-buffers=3 ! c.  audiotestsrc num-buffers=2 ! c.  collect name=c"
    )
    collect = pipeline.get("c")
    assert [pad.peer.element.factory_name for pad in collect.sink_pads] == [
        "videotestsrc",
        "audiotestsrc",
    ]
    pipeline.run(timeout=10)
    assert sorted(name for name, _ in collect.order) == ["sink_0"] * 3 + ["sink_1"] * 2


def test_caps_with_spaces_and_quotes_parse():
    pipeline = parallax.parse_launch(
        'videotestsrc num-buffers=2 ! video/x-raw, width=64, height=32, format="BGR" '
        "! appsink name=out"
    )
    pipeline.set_state(State.PLAYING)
    frames = list(pipeline.get("out"))
    pipeline.set_state(State.NULL)
    assert [f.data.shape for f in frames] == [(32, 64, 3), (32, 64, 3)]
