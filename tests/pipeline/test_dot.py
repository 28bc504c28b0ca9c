"""Pipeline pictures: dot source, SVG through the real Graphviz, plain text without it."""

import shutil
import subprocess

import pytest

import parallax
from parallax import ManualClock, State
from parallax.pipeline import Transform, dot


class ClockedIdentity(Transform):
    factory_name = "clockedidentity"

    def __init__(self) -> None:
        super().__init__("hwclock")
        self.clock = ManualClock(name="device-clock")

    def provide_clock(self):
        return self.clock

    def clock_priority(self) -> int:
        return 150


def negotiated_pipeline():
    return parallax.parse_launch(
        "videotestsrc num-buffers=2 ! video/x-raw,width=64,height=48 ! "
        "timestampdebug name=probe ! fakesink name=out"
    )


def test_dot_before_and_after_negotiation():
    pipeline = negotiated_pipeline()
    before = pipeline.to_dot()
    assert "clock: chosen at PLAYING" in before
    assert "(not negotiated)" in before
    assert 'label="probe\\n(timestampdebug)"' in before
    pipeline.run(timeout=30)
    after = pipeline.to_dot()
    assert "(not negotiated)" not in after
    assert "clock: system (system fallback)" in after
    # each link carries the negotiated caps, one field per line
    assert after.count('[label="video/x-raw,\\nformat=RGB,\\nwidth=64,\\nheight=48,') == 3
    assert "num-buffers=2" in after


def test_dot_names_the_clock_provider():
    pipeline = parallax.Pipeline("clocked")
    provider = ClockedIdentity()
    pipeline.link(parallax.make("videotestsrc", num_buffers=2), provider, parallax.make("fakesink"))
    with pipeline:
        pipeline.set_state(State.PLAYING)
        assert pipeline.clock_provider is provider
        text = pipeline.to_dot()
    assert "clock: device-clock (provided by hwclock)" in text
    assert '"hwclock\\n(clockedidentity)\\nprovides the pipeline clock", penwidth=2.5]' in text


def test_svg_from_graphviz_is_valid():
    assert shutil.which("dot"), "graphviz is installed by make (APT_TOOLS)"
    pipeline = negotiated_pipeline()
    pipeline.run(timeout=30)
    svg = pipeline._repr_svg_()
    assert svg is not None and "<svg" in svg
    assert "probe" in svg and "format=RGB," in svg
    # the dot source itself is what Graphviz accepts without warnings
    check = subprocess.run(
        ["dot", "-Tcanon"], input=pipeline.to_dot(), capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0 and check.stderr == ""


def test_without_graphviz_plain_text(monkeypatch):
    pipeline = negotiated_pipeline()
    pipeline.run(timeout=30)
    monkeypatch.setattr(dot.shutil, "which", lambda name: None)
    assert pipeline._repr_svg_() is None  # Jupyter falls back to text/plain

    class Printer:
        def __init__(self):
            self.parts = []

        def text(self, value):
            self.parts.append(value)

    printer = Printer()
    pipeline._repr_pretty_(printer, cycle=False)
    text = "".join(printer.parts)
    assert text.splitlines()[0] == "pipeline (NULL), clock: system (system fallback)"
    assert (
        "probe (timestampdebug) --[video/x-raw,format=RGB,width=64,height=48,framerate=30]--> "
        "out (fakesink)" in text
    )


@pytest.mark.parametrize("name", ['quo"te', "back\\slash"])
def test_names_are_escaped(name):
    pipeline = parallax.Pipeline(name)
    pipeline.link(parallax.make("videotestsrc", name=name), parallax.make("fakesink"))
    check = subprocess.run(
        ["dot", "-Tsvg"], input=pipeline.to_dot(), capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stderr
