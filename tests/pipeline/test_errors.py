import threading
import time

import pytest

import parallax
from parallax import NegotiationError, PipelineError, State
from parallax.errors import LinkError, ParseError
from parallax.pipeline import Source, Transform


class Boom(Transform):
    factory_name = "boom"

    def __init__(self, after: int = 3) -> None:
        super().__init__("boom")
        self.after = after
        self.seen = 0

    def process(self, buffer):
        self.seen += 1
        if self.seen > self.after:
            raise RuntimeError("kaput")
        return buffer


@pytest.mark.parametrize(
    "upstream",
    [
        "videotestsrc",
        "videotestsrc is-live=true ! queue",
        "audiotestsrc is-live=true ! queue max-size-buffers=2",
    ],
)
def test_element_error_stops_pipeline_within_a_second(upstream):
    pipeline = parallax.parse_launch(f"{upstream} ! identity name=before")
    # a second, independent live branch that would run forever
    pipeline.add(other := parallax.make("videotestsrc", is_live=True))
    pipeline.link(other, parallax.make("fakesink"))
    pipeline.link(pipeline.get("before"), Boom(), parallax.make("fakesink"))
    start = time.monotonic()
    with pytest.raises(PipelineError, match="boom: RuntimeError: kaput") as raised:
        pipeline.run(timeout=30)
    assert time.monotonic() - start < 2.5  # 3 frames of 30 fps, then < 1 s to stop
    assert raised.value.element == "boom"
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert pipeline.state == State.NULL
    assert not [t for t in threading.enumerate() if t.name.startswith("parallax:")]
    errors = pipeline.bus.messages(parallax.MessageType.ERROR)
    assert len(errors) == 1 and errors[0].source == "boom"


class BrokenSource(Source):
    factory_name = "brokensource"

    def produce(self, context):
        raise OSError(5, "device fell off")


def test_error_in_source_names_the_source():
    pipeline = parallax.Pipeline()
    pipeline.link(BrokenSource("camera"), parallax.make("fakesink"))
    with pytest.raises(PipelineError, match=r"camera: OSError: \[Errno 5\] device fell off"):
        pipeline.run(timeout=10)


def test_push_after_end_of_stream_is_refused():
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", name="feeder", caps="video/x-raw")
    pipeline.link(src, parallax.make("fakesink"))
    src.end_of_stream()
    with pytest.raises(PipelineError, match="feeder: push\\(\\) after end_of_stream"):
        src.push(b"late")
    pipeline.run(timeout=10)


def test_appsink_raises_pipeline_error_instead_of_hanging():
    pipeline = parallax.parse_launch("videotestsrc is-live=true ! identity name=before")
    pipeline.link(pipeline.get("before"), Boom(after=1), sink := parallax.make("appsink"))
    pipeline.set_state(State.PLAYING)
    with pytest.raises(PipelineError, match="kaput"):
        list(sink)
    pipeline.set_state(State.NULL)


@pytest.mark.parametrize(
    ("description", "position", "match"),
    [
        ("videotestsrc ! nosuchelement ! fakesink", 15, "no element 'nosuchelement'"),
        ("videotestsrc nosuch-prop=3 ! fakesink", 13, "has no property 'nosuch-prop'"),
        ("videotestsrc num-buffers=many ! fakesink", 13, "expected an integer"),
        ("videotestsrc pattern=plaid ! fakesink", 13, "expected one of smpte"),
        ("videotestsrc ! video/x-raw,width=,height=4 ! fakesink", 15, "bad caps"),
        ("videotestsrc ! ! fakesink", 15, "two '!' in a row"),
        ("videotestsrc !", 13, "nothing after it"),
        ("! fakesink", 0, "nothing before it"),
        ("videotestsrc ! mux.", 15, "no element named 'mux'"),
        ("fakesink ! fakesink", 9, "fakesink0 has no output|has no output"),
    ],
)
def test_parse_errors_say_where(description, position, match):
    with pytest.raises(ParseError, match=match) as raised:
        parallax.parse_launch(description)
    assert raised.value.position == position
    assert "^" in str(raised.value)


def test_linking_incompatible_caps_is_a_negotiation_error():
    pipeline = parallax.Pipeline()
    with pytest.raises(NegotiationError, match=r"audiotestsrc\d+ gives audio/x-raw"):
        pipeline.link(parallax.make("audiotestsrc"), parallax.make("appsink", caps="video/x-raw"))
    with pytest.raises(NegotiationError, match="takes video/x-raw,width=640"):
        parallax.parse_launch("audiotestsrc ! video/x-raw,width=640 ! fakesink")


def test_negotiation_error_through_a_passthrough_chain():
    pipeline = parallax.parse_launch("videotestsrc ! identity ! video/x-raw,format=I420 ! fakesink")
    with pytest.raises(NegotiationError, match="videotestsrc"):
        pipeline.set_state(State.PLAYING)
    assert pipeline.state == State.NULL


def test_unlinked_output_is_a_link_error():
    pipeline = parallax.Pipeline()
    pipeline.link(parallax.make("videotestsrc"), parallax.make("identity"))
    with pytest.raises(LinkError, match="output is not linked"):
        pipeline.set_state(State.PLAYING)


def test_run_timeout_tears_down():
    pipeline = parallax.parse_launch("videotestsrc is-live=true ! fakesink")
    with pytest.raises(TimeoutError, match=r"no end of stream within 0\.2 s"):
        pipeline.run(timeout=0.2)
    assert pipeline.state == State.NULL
