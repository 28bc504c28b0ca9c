"""parallax.analysis: reports from arrays, elements, logs and real FFmpeg files."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction

import numpy as np
import pytest

from parallax import NONE_NS, SECOND, parse_launch
from parallax.analysis import TimingReport, estimate_drift_ppm, parse_time
from parallax.time import format_time

FRAME = SECOND // 30  # 33_333_333 ns


def frames(n: int, step: int = FRAME, first: int = 0) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * step + first


def test_regular_stream():
    report = TimingReport.from_pts(frames(90), nominal=FRAME)
    (stream,) = report
    assert stream.count == 90
    assert stream.span == 89 * FRAME
    assert stream.duration == 90 * FRAME
    assert (stream.interval_min, stream.interval_max) == (FRAME, FRAME)
    assert stream.interval_mean == FRAME and stream.interval_std == 0
    assert (stream.gaps, stream.dropped, stream.non_monotonic) == (0, 0, 0)
    assert not stream.residual.any()
    assert stream.intervals.dtype == np.int64 and stream.residual.dtype == np.int64


def test_drops_jitter_and_backwards_steps():
    pts = np.delete(frames(100), [10, 50, 51])  # one drop, then two in a row
    pts[70] += 3_000_000  # 3 ms late
    pts = np.insert(pts, 80, pts[79])  # a duplicate
    pts = np.insert(pts, 91, pts[90] - 1)  # backwards by 1 ns
    stream = TimingReport.from_pts(pts, nominal=FRAME)[0]
    assert stream.count == 99
    assert stream.gaps == 2 and stream.dropped == 3
    assert stream.non_monotonic == 2
    assert stream.interval_max == 3 * FRAME
    assert stream.interval_min == FRAME - 3_000_000
    # The late frame is 3 ms off its slot; the frames after the drops are on theirs.
    assert stream.residual[70] == 3_000_000
    assert stream.residual[60] == 0
    assert stream.slots[-1] == 99  # the duplicate and the step back stayed on their slot
    assert stream.slots[80] == stream.slots[79]


def test_exact_ideal_grid_for_29_97_fps():
    nominal = Fraction(SECOND * 1001, 30000)
    pts = np.array([(k * SECOND * 1001) // 30000 for k in range(3000)], dtype=np.int64)
    stream = TimingReport.from_pts(pts, nominal=nominal)[0]
    assert not stream.residual.any()  # a floor-rounded 33_366_666 ns grid would drift 2 us
    assert (stream.interval_min, stream.interval_max) == (33_366_666, 33_366_667)
    assert stream.gaps == 0


def test_missing_pts_and_default_nominal():
    pts = frames(10, step=20 * 10**6)
    pts[3] = NONE_NS
    stream = TimingReport.from_pts(pts, name="cam", kind="video")[0]
    assert stream.nominal == 20 * 10**6  # the median interval
    assert stream.missing == 1 and stream.count == 10 and len(stream.pts) == 9
    assert stream.gaps == 1 and stream.dropped == 1  # a missing PTS looks like a gap


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="int64"):
        TimingReport.from_pts(np.arange(3, dtype=np.float64))
    with pytest.raises(ValueError, match="nominal"):
        TimingReport.from_pts(frames(3), nominal=0)


def test_av_offset_and_drift():
    video = frames(300)  # 10 s
    period = Fraction(1024 * SECOND, 48000)
    rate = 1 + Fraction(100, 10**6)  # audio PTS advance 100 ppm fast
    audio = np.array([12_300_000 + int(k * period * rate) for k in range(469)], dtype=np.int64)
    report = TimingReport(
        (
            TimingReport.from_pts(video, FRAME, name="v", kind="video")[0],
            TimingReport.from_pts(audio, period, name="a", kind="audio")[0],
        )
    )
    assert report.av_offset == 12_300_000
    _times, offsets = report.av_offset_series()
    assert offsets[0] == 12_300_000 and offsets.dtype == np.int64
    assert report.av_drift_ppm == pytest.approx(100, abs=0.5)
    assert report["a"].rate_ppm == pytest.approx(100, abs=0.5)
    assert report["v"].rate_ppm == pytest.approx(0, abs=0.5)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["av_offset"] == 12_300_000
    assert [s["name"] for s in data["streams"]] == ["v", "a"]


def test_estimate_drift_ppm_needs_two_times():
    one = np.array([5], dtype=np.int64)
    assert estimate_drift_ppm(one, one) is None
    times = np.arange(0, 10 * SECOND, SECOND, dtype=np.int64)
    assert estimate_drift_ppm(times, times // 1000) == pytest.approx(1000)


def test_parse_time_inverts_format_time():
    for ns in (0, 1, FRAME, -SECOND - 7, 3 * 3600 * SECOND + 5):
        assert parse_time(format_time(ns)) == ns
    assert parse_time("none") is None
    with pytest.raises(ValueError):
        parse_time("1.5")


def test_html_lists_the_streams():
    pts = np.delete(frames(30), [5])
    text = TimingReport.from_pts(pts, FRAME, name="cam<0>")._repr_html_()
    assert "<table>" in text and "cam&lt;0&gt;" in text
    assert "<td>1 (1)</td>" in text  # gaps (dropped)


def test_plot_has_three_panels(tmp_path):
    pytest.importorskip("matplotlib")  # the [plot] extra; the dev extra installs it
    video = TimingReport.from_pts(frames(60), FRAME, name="v", kind="video")[0]
    audio = TimingReport.from_pts(frames(100, 20 * 10**6), name="a", kind="audio")[0]
    out = tmp_path / "timing.png"
    figure = TimingReport((video, audio)).plot(out)
    titles = [axes.get_title() for axes in figure.axes]
    assert len(titles) == 3
    assert titles[0] == "Frame intervals"
    assert titles[1].startswith("PTS residual")
    assert titles[2].startswith("A/V offset")
    assert len(figure.axes[1].lines) == 2 and len(figure.axes[2].lines) == 1
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_from_element_after_a_run():
    pipeline = parse_launch(
        "videotestsrc num-buffers=30 ! video/x-raw,framerate=30/1 ! "
        "timestampdebug name=video keep-pts=true ! fakesink "
        "audiotestsrc num-buffers=20 samplesperbuffer=1024 ! audio/x-raw,rate=48000 ! "
        "timestampdebug name=audio keep-pts=true ! fakesink"
    )
    pipeline.run(timeout=30)
    report = TimingReport.from_element(pipeline.get("video"), pipeline.get("audio"))
    assert [(s.name, s.kind, s.count) for s in report] == [
        ("video", "video", 30),
        ("audio", "audio", 20),
    ]
    assert report.video.nominal == FRAME + Fraction(1, 3)
    assert report.audio.span == (19 * 1024 * SECOND) // 48000
    assert report.video.gaps == 0 and report.audio.gaps == 0
    assert report.av_offset == 0
    assert report.audio.residual.max() <= 1  # exact sample grid, floor rounding only


def test_from_element_without_keep_pts_says_what_to_do():
    pipeline = parse_launch("videotestsrc num-buffers=3 ! timestampdebug name=t ! fakesink")
    pipeline.run(timeout=30)
    with pytest.raises(ValueError, match="keep-pts=true"):
        TimingReport.from_element(pipeline.get("t"))


def test_from_log(tmp_path):
    import sys

    log = tmp_path / "run.log"
    with log.open("w") as out:
        subprocess.run(
            [sys.executable, "-m", "parallax", "-v", "launch",
             "videotestsrc num-buffers=12 ! timestampdebug name=video0 ! fakesink"],
            stderr=out, stdout=subprocess.DEVNULL, check=True, timeout=60,
        )  # fmt: skip
    report = TimingReport.load(log)
    stream = report["video0"]
    assert stream.kind == "video" and stream.count == 12
    assert stream.span == 11 * FRAME + 11 // 3  # exact frame_pts(11)
    empty = tmp_path / "empty.log"
    empty.write_text("nothing here\n")
    with pytest.raises(ValueError, match="no timestampdebug lines"):
        TimingReport.from_log(empty)


# -- files written by FFmpeg itself, checked against ffprobe ------------------------------------


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=120
    )


def ffprobe_packets(path) -> dict[int, dict]:
    """Per stream index: packets' pts (presentation order) in ns, exact, and the time base."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_packets", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    data = json.loads(out.stdout)
    streams = {}
    for stream in data["streams"]:
        num, den = map(int, stream["time_base"].split("/"))
        pts = sorted(int(p["pts"]) for p in data["packets"] if p["stream_index"] == stream["index"])
        # Python integers: an independent exact reference for the ns scaling.
        streams[stream["index"]] = [(t * num * SECOND) // den for t in pts]
    return streams


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("h264_aac.mp4", ["-r", "25", "-c:v", "libx264", "-bf", "2", "-c:a", "aac"]),
        ("ntsc.ts", ["-r", "30000/1001", "-c:v", "mpeg2video", "-c:a", "mp2"]),
    ],
)
def test_from_file_matches_ffprobe(tmp_path, name, args):
    path = tmp_path / name
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", "3", *args, str(path),
    )  # fmt: skip
    reference = ffprobe_packets(path)
    report = TimingReport.from_file(path)
    assert [s.kind for s in report] == ["video", "audio"]
    for index, stream in enumerate(report):
        expected = np.array(reference[index], dtype=np.int64)
        assert stream.count == len(expected)
        np.testing.assert_array_equal(stream.pts, expected)
        steps = np.diff(expected)
        assert (stream.interval_min, stream.interval_max) == (steps.min(), steps.max())
        assert stream.gaps == 0 and stream.non_monotonic == 0
    assert report.video.count == (75 if "25" in args else 90)
    assert report.av_offset is not None and abs(report.av_offset) < 30 * 10**6


def test_from_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        TimingReport.from_file(tmp_path / "nothing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a movie" * 10)
    with pytest.raises(ValueError, match="not a media file"):
        TimingReport.from_file(junk)
