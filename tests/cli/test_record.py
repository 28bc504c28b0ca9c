"""`parallax record`: argument checks and the pipeline it builds.

Recordings are made as a user would (a subprocess) and read back with `parallax analyze` and
ffprobe.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import pytest

from parallax import cli
from parallax.elements.debug.timestampdebug import TimestampStats
from parallax.pipeline.parse import _tokens
from parallax.record import RecordPlan, describe


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
    assert text.endswith("mp4mux fragmented=true name=mux location=demo.mp4")
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
    assert "h264enc name=venc preset=ultrafast tune=zerolatency key-int-max=60 ! queue" in text
    assert 'alsasrc device="hw:Loopback,1,0" ! audio/x-raw,rate=48000,channels=2' in text
    assert text.endswith('mpegtsmux name=mux location="out dir/cap.ts"')
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


# -- recording, the user's way ------------------------------------------------------------------


def analyze(path) -> dict:
    import json

    result = parallax("analyze", str(path), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".mp4", ".ts"])
def test_record_test_sources_for_three_seconds(tmp_path, suffix):
    out = tmp_path / f"rec{suffix}"
    result = parallax("record", str(out), "--duration", "3", "--size", "320x240")
    assert result.returncode == 0, result.stderr
    assert "recording the built-in test sources" in result.stdout
    assert "timestamp repairs: aenc 0, venc 0" in result.stdout
    report = analyze(out)
    video = next(s for s in report["streams"] if s["kind"] == "video")
    audio = next(s for s in report["streams"] if s["kind"] == "audio")
    frame = 1_000_000_000 // 30 + 1
    assert video["count"] == 90
    assert video["gaps"] == 0 and audio["gaps"] == 0
    assert abs(video["duration"] - 3_000_000_000) <= frame
    assert video["non_monotonic"] == 0 and audio["non_monotonic"] == 0


@pytest.mark.slow
def test_ctrl_c_during_record_leaves_a_playable_file(tmp_path):
    import json
    import signal
    import time

    out = tmp_path / "interrupted.mp4"
    process = subprocess.Popen(
        [sys.executable, "-m", "parallax", "record", str(out), "--size", "320x240"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)  # real time: the user records, then presses Ctrl-C
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert f"wrote {out}" in stdout
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-count_packets", "-of", "json", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    streams = {s["codec_type"]: s for s in json.loads(probe.stdout)["streams"]}
    assert int(streams["video"]["nb_read_packets"]) >= 30  # at least 1 s of the ~3 s
    assert int(streams["audio"]["nb_read_packets"]) >= 40


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


def test_progress_line():
    video = TimestampStats(buffers=90, gaps=1, first_pts=0)
    audio = TimestampStats(buffers=141, first_pts=12_300_000)
    assert cli.progress_line(3.04, video, audio) == (
        "elapsed   3.0 s | video 90 frames, 1 gaps | audio 141 buffers, 0 gaps | A/V +12.3 ms"
    )
    assert cli.progress_line(0.5, None, audio) == "elapsed   0.5 s | audio 141 buffers, 0 gaps"
