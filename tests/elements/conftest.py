"""Helpers for the codec tests: ffprobe (Debian's ffmpeg) reads our files independently."""

import json
import subprocess
import threading
from fractions import Fraction

import pytest

from parallax import SECOND


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Every pipeline test must leave no streaming thread behind."""
    yield
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("parallax:")]
    assert not leaked, f"streaming threads still running: {leaked}"


class Probe:
    """ffprobe's view of a file: streams and packets, times converted to exact ns."""

    def __init__(self, path):
        result = subprocess.run(
            ["ffprobe", "-v", "error", "-show_packets", "-show_streams", "-show_format",
             "-of", "json", str(path)],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        self.raw = json.loads(result.stdout)
        self.streams = self.raw["streams"]
        self.packets = self.raw.get("packets", [])
        self.format = self.raw.get("format", {})

    def stream(self, kind):
        (found,) = [s for s in self.streams if s["codec_type"] == kind]
        return found

    def time_base(self, kind):
        return Fraction(self.stream(kind)["time_base"])

    def packet_times(self, kind, field="pts"):
        """Exact times (Fraction ns) of a stream's packets, in file order."""
        stream = self.stream(kind)
        base = Fraction(stream["time_base"]) * SECOND
        return [
            int(p[field]) * base
            for p in self.packets
            if p["stream_index"] == stream["index"] and p.get(field) not in (None, "N/A")
        ]

    def start(self, kind):
        """Stream start, Fraction ns (ffprobe's start_pts in the stream time base)."""
        stream = self.stream(kind)
        return int(stream["start_pts"]) * Fraction(stream["time_base"]) * SECOND


@pytest.fixture
def probe():
    return Probe
