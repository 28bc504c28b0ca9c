"""The command line, run the user's way: as a subprocess."""

import subprocess
import sys


def parallax(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parallax", *args], capture_output=True, text=True, timeout=timeout
    )


def test_launch_prints_clock_and_stats():
    result = parallax("launch", "videotestsrc num-buffers=12 ! timestampdebug name=t ! fakesink")
    assert result.returncode == 0, result.stderr
    assert "Pipeline clock: system (fallback)" in result.stdout
    assert "t: 12 buffers, PTS 0:00:00.000000000 .. 0:00:00.366666666" in result.stdout


def test_launch_error_is_one_line_and_nonzero():
    result = parallax("launch", "videotestsrc ! nosuch ! fakesink")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("parallax: error: no element 'nosuch'; known elements: appsink, ")
    assert "audiotestsrc, " in lines[0]
    assert "position 15" in lines[0]


def test_verbose_shows_the_traceback():
    result = parallax("-v", "launch", "videotestsrc ! nosuch ! fakesink")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_inspect_lists_and_describes():
    listing = parallax("inspect")
    assert listing.returncode == 0
    assert "videotestsrc" in listing.stdout and "timestampdebug" in listing.stdout
    one = parallax("inspect", "audiotestsrc")
    assert one.returncode == 0
    assert "samplesperbuffer" in one.stdout
    assert "src  src      audio/x-raw" in one.stdout
    assert "Provides a clock: no" in one.stdout
    missing = parallax("inspect", "nosuch")
    assert missing.returncode == 1 and "no element 'nosuch'" in missing.stderr


def test_demo_prints_clock_table_and_live_stats():
    result = parallax("demo", "--seconds", "1", timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Clock: system (CLOCK_MONOTONIC), resolution" in out
    assert "sample   1099511627776  pts    24932236457505668 ns" in out
    assert out.count("  sample ") == 10
    assert "video: 30 buffers, PTS span 0:00:00.966666666" in out
    assert "audio: 47 buffers" in out


def test_ctrl_c_ends_the_streams_cleanly():
    import signal
    import time

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parallax",
            "launch",
            "videotestsrc is-live=true ! timestampdebug name=t ! fakesink",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # real time: the user waits, then presses Ctrl-C
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "interrupted, finishing the streams" in out
    assert "t: " in out and " buffers, PTS 0:00:00.000000000 .. " in out
    assert "gaps 0, non-monotonic 0" in out
