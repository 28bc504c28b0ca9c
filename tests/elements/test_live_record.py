"""Live recordings from the test sources (real time: slow tests)."""

import os
import signal
import subprocess
import sys
import time

import pytest

import parallax
from parallax import SECOND

FRAME = SECOND // 30
LIVE_AV = (
    "videotestsrc is-live=true {video} ! video/x-raw,width=160,height=120,framerate=30/1 ! "
    "videoconvert ! h264enc preset=ultrafast ! mux. "
    "audiotestsrc is-live=true wave=ticks samplesperbuffer=960 {audio} ! audioconvert ! "
    "aacenc ! mux. mp4mux name=mux {mux}"
)


@pytest.mark.slow
def test_five_second_live_capture_lasts_five_seconds_in_the_file(tmp_path, probe):
    path = tmp_path / "live.mp4"
    pipeline = parallax.parse_launch(
        LIVE_AV.format(video="num-buffers=150", audio="num-buffers=250", mux=f"location={path}")
    )
    pipeline.run(timeout=30)
    file = probe(path)
    assert file.stream("video")["codec_name"] == "h264"
    video = file.packet_times("video")
    assert len(video) == 150
    duration = max(video) + FRAME - min(video)  # seed success criterion 1: right speed
    assert abs(duration - 5 * SECOND) <= FRAME
    assert abs(float(file.format["duration"]) * SECOND - 5 * SECOND) <= FRAME
    # audio: 250 x 960 samples = 5 s, starting with the video at running time 0
    audio = file.packet_times("audio")
    assert abs(audio[1] - min(video)) <= SECOND // 48000


@pytest.mark.slow
def test_kill_9_while_recording_fragmented_mp4_keeps_what_was_written(tmp_path, probe):
    path = tmp_path / "crash.mp4"
    description = LIVE_AV.format(video="", audio="", mux=f"fragmented=true location={path}")
    process = subprocess.Popen(
        [sys.executable, "-m", "parallax", "launch", description],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not path.exists():  # the muxer opens the file when the pipeline starts
            assert process.poll() is None, "the recording process ended early"
            assert time.monotonic() < deadline, "the recording never started"
            time.sleep(0.05)
        time.sleep(3)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    file = probe(path)
    video = sorted(file.packet_times("video"))
    assert len(video) >= 60 and video[0] == 0  # 2 s at 30/1, from the start
    assert video[-1] - video[0] >= 2 * SECOND - FRAME
