"""`parallax analyze` on files written by Debian's own ffmpeg, checked against ffprobe."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from parallax import SECOND, cli
from parallax.analysis import TimingReport


def parallax(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parallax", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def testsrc_mp4(tmp_path_factory) -> str:
    """4 s of FFmpeg's testsrc at 25 fps (H.264 with B-frames) and a 48 kHz sine (AAC)."""
    path = tmp_path_factory.mktemp("ffmpeg") / "testsrc.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
         "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-c:a", "aac",
         str(path)],
        check=True, timeout=120,
    )  # fmt: skip
    return str(path)


def ffprobe(path: str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_packets", "-show_streams", "-of", "json", path],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_analyze_json_matches_ffprobe(testsrc_mp4):
    result = parallax("analyze", testsrc_mp4, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    probe = ffprobe(testsrc_mp4)
    assert [s["kind"] for s in report["streams"]] == ["video", "audio"]
    for ours, stream in zip(report["streams"], probe["streams"], strict=True):
        num, den = map(int, stream["time_base"].split("/"))
        ticks = sorted(
            int(p["pts"]) for p in probe["packets"] if p["stream_index"] == stream["index"]
        )
        ns = np.array([t * num * SECOND // den for t in ticks], dtype=np.int64)
        intervals = np.diff(ns)
        assert ours["count"] == len(ticks)
        assert ours["span"] == ns[-1] - ns[0]
        assert ours["interval_min"] == intervals.min()
        assert ours["interval_max"] == intervals.max()
        assert ours["interval_mean"] == pytest.approx(intervals.mean(), abs=1e-3)
        assert ours["gaps"] == 0 and ours["non_monotonic"] == 0
    assert report["streams"][0]["count"] == 100  # 4 s at 25 fps
    assert (
        report["streams"][0]["interval_min"] == report["streams"][0]["interval_max"] == 40 * 10**6
    )
    assert report["av_offset"] == 0  # AAC priming is trimmed by the edit list


def test_analyze_text_report(testsrc_mp4):
    result = parallax("analyze", testsrc_mp4)
    assert result.returncode == 0, result.stderr
    assert "0:video: 100 buffers, PTS span 0:00:03.960000000" in result.stdout
    assert "interval min/mean/max 40.000 / 40.000 / 40.000 ms" in result.stdout
    assert "A/V start offset 0.000 ms" in result.stdout


def test_analyze_plot_png_is_written(testsrc_mp4, tmp_path):
    out = tmp_path / "timing.png"
    result = parallax("analyze", testsrc_mp4, "--json", "--plot", str(out))
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)  # the plot note went to stderr: stdout stays JSON
    assert f"plots written to {out}" in result.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_analyze_plot_figure_has_three_panels(testsrc_mp4, tmp_path, monkeypatch, capsys):
    """The same command in-process, to look at the figure object itself (not its pixels)."""
    figures = []
    plot = TimingReport.plot

    def keep(self, path=None):
        figures.append(plot(self, path))
        return figures[-1]

    monkeypatch.setattr(TimingReport, "plot", keep)
    assert cli.main(["analyze", testsrc_mp4, "--plot", str(tmp_path / "p.png")]) == 0
    (figure,) = figures
    histogram, residual, offset = figure.axes
    assert histogram.get_title() == "Frame intervals"
    assert sum(len(container) for container in histogram.containers) > 0  # bars drawn
    assert residual.get_title().startswith("PTS residual vs ideal")
    assert [line.get_label() for line in residual.lines] == ["0:video", "1:audio"]
    assert offset.get_title().startswith("A/V offset over time")
    assert len(offset.lines) == 1 and len(offset.lines[0].get_xdata()) > 100
    assert (tmp_path / "p.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"definitely not a movie" * 20, "not a media file"),
    ],
)
def test_analyze_errors_are_one_line(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    result = parallax("analyze", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("parallax: error: ") and message in lines[0]
    verbose = parallax("-v", "analyze", str(path))
    assert verbose.returncode != 0 and "Traceback" in verbose.stderr
