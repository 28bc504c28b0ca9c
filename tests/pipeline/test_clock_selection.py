import logging

import parallax
from parallax import ManualClock, MessageType, State, SystemClock
from parallax.pipeline import Element, Transform


class ClockedIdentity(Transform):
    factory_name = "clockedidentity"

    def __init__(self, priority: int, clock_name: str) -> None:
        super().__init__()
        self.priority = priority
        self.clock = ManualClock(name=clock_name)
        self.started_with = None

    def provide_clock(self):
        return self.clock

    def clock_priority(self) -> int:
        return self.priority

    def start(self, context) -> None:
        self.started_with = context.clock


class Recorder(Transform):
    factory_name = "recorder"
    started_with = None

    def start(self, context) -> None:
        self.started_with = context.clock


def build(*middle: Element):
    pipeline = parallax.Pipeline()
    pipeline.link(
        parallax.make("videotestsrc", num_buffers=2),
        *middle,
        recorder := Recorder(),
        parallax.make("fakesink", sync=False),
    )
    return pipeline, recorder


def test_highest_priority_provider_wins_and_reaches_every_element(caplog):
    low, high = ClockedIdentity(100, "low"), ClockedIdentity(300, "high")
    pipeline, recorder = build(low, high)
    with caplog.at_level(logging.INFO, logger="parallax.pipeline"), pipeline:
        pipeline.set_state(State.PLAYING)
        assert pipeline.clock is high.clock
        for element in pipeline:
            assert element.context is not None and element.context.clock is high.clock
        selected = pipeline.bus.messages(MessageType.CLOCK_SELECTED)
        assert len(selected) == 1
        assert selected[0].data["clock"] is high.clock
        assert selected[0].data["priority"] == 300
    assert recorder.started_with is high.clock
    assert low.started_with is high.clock
    assert "Pipeline clock: high (priority 300)" in caplog.text


def test_ties_go_to_the_most_upstream_provider():
    first, second = ClockedIdentity(100, "first"), ClockedIdentity(100, "second")
    pipeline, _ = build(first, second)
    with pipeline:
        pipeline.set_state(State.PLAYING)
        assert pipeline.clock is first.clock


def test_use_clock_overrides_providers():
    forced = ManualClock(name="forced")
    pipeline, recorder = build(ClockedIdentity(300, "high"))
    pipeline.use_clock(forced)
    with pipeline:
        pipeline.set_state(State.PLAYING)
        assert pipeline.clock is forced
    assert recorder.started_with is forced


def test_no_provider_falls_back_to_system_clock():
    pipeline, recorder = build()
    pipeline.run(timeout=10)
    assert isinstance(recorder.started_with, SystemClock)
    message = pipeline.bus.messages(MessageType.CLOCK_SELECTED)[0]
    assert message.text == "Pipeline clock: system (fallback)"
