"""`parallax record`: argument checks and the pipeline it builds.

Recording itself is tested once the codec elements (videoconvert, h264enc, aacenc, mp4mux,
mpegtsmux, filesink) are merged; until then the structure is checked against stand-ins that
only declare the properties the recorder sets.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import pytest

from parallax import cli, elements
from parallax.elements.debug.timestampdebug import TimestampStats
from parallax.pipeline import Aggregator, Property, Sink, Transform
from parallax.pipeline.parse import _tokens
from parallax.record import RecordPlan, build_pipeline, describe


def parallax(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parallax", *args], capture_output=True, text=True, timeout=60
    )


# -- the plan ------------------------------------------------------------------------------------


def test_test_sources_make_exactly_the_duration():
    plan = RecordPlan("demo.mp4", duration=3)
    text = describe(plan)
    assert "videotestsrc is-live=true num-buffers=90 ! video/x-raw,width=640,height=480," in text
    assert "audiotestsrc is-live=true samplesperbuffer=1024 num-buffers=141 ! " in text
    assert text.endswith("mp4mux fragmented=true name=mux ! filesink location=demo.mp4")
    assert plan.uses_test_sources


def test_devices_and_ts():
    plan = RecordPlan(
        "out dir/cap.ts",
        video="/dev/video0",
        audio="hw:Loopback,1,0",
        duration=3,
        fps=Fraction(30000, 1001),
    )
    text = describe(plan)
    assert "v4l2src device=/dev/video0 ! video/x-raw,width=640,height=480,framerate=30000/1001" in (
        text
    )
    assert "h264enc preset=ultrafast tune=zerolatency key-int-max=60 ! queue ! mux." in text
    assert 'alsasrc device="hw:Loopback,1,0" ! audio/x-raw,rate=48000,channels=2' in text
    assert text.endswith('mpegtsmux name=mux ! filesink location="out dir/cap.ts"')
    # the quoted values stay one token each for parse_launch
    tokens = [token for token, _ in _tokens(text)]
    assert 'device="hw:Loopback,1,0"' in tokens and 'location="out dir/cap.ts"' in tokens
    assert not plan.uses_test_sources and plan.video_frames == 90


def test_screen_and_pipewire():
    text = describe(RecordPlan("s.mp4", video="screen", audio="pipewire:42"))
    assert text.startswith("screencapturesrc ! video/x-raw")
    assert "pipewiresrc target-object=42 ! audio/x-raw" in text
    assert "num-buffers" not in text  # until Ctrl-C


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"output": "x.avi"}, "x.avi: cannot tell the container from the name; use one of .mp4"),
        ({"output": "x.mp4", "video": None, "audio": None}, "nothing to record"),
        ({"output": "x.mp4", "duration": -1.0}, "--duration must be a positive number"),
        ({"output": "x.mp4", "duration": float("nan")}, "--duration must be a positive number"),
        ({"output": "x.mp4", "width": 0}, "--width must be > 0"),
    ],
)
def test_bad_plans(kwargs, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        RecordPlan(**kwargs)


# -- the pipeline, against stand-ins for the codec elements ----------------------------------


class _Stub(Transform):
    def process(self, buffer):
        return buffer


class H264Enc(_Stub):
    factory_name = "h264enc"
    preset = Property(str, "medium", "x264 preset")
    tune = Property(str, "", "x264 tune")
    key_int_max = Property(int, 250, "frames between keyframes")


class Mp4Mux(Aggregator):
    factory_name = "mp4mux"
    fragmented = Property(bool, False, "fragmented MP4")


class FileSink(Sink):
    factory_name = "filesink"
    location = Property(str, "", "file")

    def render(self, buffer):
        pass


STUBS = {
    "videoconvert": type("VideoConvert", (_Stub,), {"factory_name": "videoconvert"}),
    "audioconvert": type("AudioConvert", (_Stub,), {"factory_name": "audioconvert"}),
    "aacenc": type("AacEnc", (_Stub,), {"factory_name": "aacenc"}),
    "h264enc": H264Enc,
    "mp4mux": Mp4Mux,
    "filesink": FileSink,
}


@pytest.fixture
def stand_ins(monkeypatch):
    """Put the stand-ins in the factory table, where the real elements are missing."""
    real = elements.element_class

    def element_class(factory):
        if factory in STUBS and factory not in elements.FACTORIES:
            return STUBS[factory]
        return real(factory)

    monkeypatch.setattr(elements, "element_class", element_class)
    monkeypatch.setattr("parallax.pipeline.parse.element_class", element_class)


def test_pipeline_links_each_stream_through_its_encoder_into_the_muxer(stand_ins):
    pipeline = build_pipeline(RecordPlan("demo.mp4", duration=1))
    mux = pipeline.get("mux")
    assert len(mux.sink_pads) == 2

    def upstream_chain(pad):
        chain = []
        while pad is not None and pad.peer is not None:
            element = pad.peer.element
            chain.append(element.factory_name)
            pad = element.sink_pads[0] if element.sink_pads else None
        return chain[::-1]

    chains = sorted(upstream_chain(pad) for pad in mux.sink_pads)
    assert chains == [
        ["audiotestsrc", "capsfilter", "timestampdebug", "audioconvert", "aacenc", "queue"],
        ["videotestsrc", "capsfilter", "timestampdebug", "videoconvert", "capsfilter",
         "h264enc", "queue"],
    ]  # fmt: skip
    assert pipeline.get("video").keep_pts and pipeline.get("audio").keep_pts
    assert mux.fragmented is True
    sink = mux.src_pad.peer.element
    assert sink.factory_name == "filesink" and sink.location == "demo.mp4"


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x.avi"], "x.avi: cannot tell the container from the name"),
        (["x.mp4", "--screen", "--video", "/dev/video0"], "--screen and --video both give"),
        (["x.mp4", "--duration", "0"], "--duration must be a positive number of seconds"),
        (["x.mp4", "--size", "big"], "--size must be WIDTHxHEIGHT"),
        (["x.mp4", "--fps", "1/0"], "--fps must be a number or a fraction"),
        (["x.mp4", "--video", "none", "--audio", "none"], "nothing to record"),
    ],
)
def test_record_errors_are_one_line(args, message):
    result = parallax("record", *args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("parallax: error: ") and message in lines[0]


def test_missing_codec_element_is_named(tmp_path, monkeypatch, capsys, stand_ins):
    """Until (and if ever again) an element is missing, record says which, in one line."""
    monkeypatch.delitem(STUBS, "h264enc")
    monkeypatch.delitem(elements.FACTORIES, "h264enc", raising=False)
    assert cli.main(["record", str(tmp_path / "x.mp4"), "--duration", "1"]) == 1
    out, err = capsys.readouterr()
    assert "recording the built-in test sources" in out
    assert err.startswith("parallax: error: no element 'h264enc'; known elements: ")
    assert len(err.strip().splitlines()) == 1


def test_progress_line():
    video = TimestampStats(buffers=90, gaps=1, first_pts=0)
    audio = TimestampStats(buffers=141, first_pts=12_300_000)
    assert cli.progress_line(3.04, video, audio) == (
        "elapsed   3.0 s | video 90 frames, 1 gaps | audio 141 buffers, 0 gaps | A/V +12.3 ms"
    )
    assert cli.progress_line(0.5, None, audio) == "elapsed   0.5 s | audio 141 buffers, 0 gaps"
