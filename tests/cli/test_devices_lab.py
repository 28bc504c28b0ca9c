"""Inside the lab VM: `parallax devices --json` sees vivid and the ALSA Loopback card."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.lab


def devices_json() -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "parallax", "devices", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_lists_vivid_with_formats_sizes_and_rates():
    v4l2 = devices_json()["v4l2"]
    assert v4l2["status"] == "ok"
    (vivid,) = [item for item in v4l2["items"] if item["path"] == "/dev/video0"]
    assert vivid["driver"] == "vivid"
    assert "capture" in vivid["capabilities"]
    fourccs = [fmt["fourcc"] for fmt in vivid["formats"]]
    assert "YUYV" in fourccs
    sizes = next(fmt["sizes"] for fmt in vivid["formats"] if fmt["fourcc"] == "YUYV")
    by_size = {(s["width"], s["height"]): s["fps"] for s in sizes}
    # docs/lab.md: the webcam input does 320x180 up to 60 fps, 640x480 up to 25
    assert by_size[(320, 180)][0] == "60"
    assert by_size[(640, 480)][0] == "25"
    assert by_size[(1280, 720)][0] == "25/2"  # 12.5 fps, exact


def test_lists_the_loopback_card_with_probed_rates():
    alsa = devices_json()["alsa"]
    assert alsa["status"] == "ok"
    loopback = [item for item in alsa["items"] if item["card"] == "Loopback"]
    assert {(i["name"], i["direction"]) for i in loopback} >= {
        ("hw:Loopback,0", "playback"),
        ("hw:Loopback,0", "capture"),
        ("hw:Loopback,1", "playback"),
        ("hw:Loopback,1", "capture"),
    }
    capture = next(
        i for i in loopback if i["name"] == "hw:Loopback,1" and i["direction"] == "capture"
    )
    assert "probe" not in capture, capture.get("probe")
    low, high = capture["rates"]
    assert low <= 8000 and high >= 48000
    assert capture["channels"][0] == 1 and capture["channels"][1] >= 2
    assert "S16_LE" in capture["formats"]
    dummy = [item for item in alsa["items"] if item["card"] == "Dummy"]
    assert {item["direction"] for item in dummy} == {"playback", "capture"}
    for item in dummy:
        assert item["rates"] == [5500, 48000] and item["channels"] == [1, 2]
        assert item["formats"] == ["U8", "S16_LE"]  # only defined formats, none invented


def test_text_lists_them_too():
    result = subprocess.run(
        [sys.executable, "-m", "parallax", "devices"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "  /dev/video0  vivid  " in result.stdout
    assert "\n      YUYV " in result.stdout
    assert "\n          320x180@60,50,40,30,25,15,25/2,10," in result.stdout
    assert "hw:Loopback,1    capture  'Loopback PCM'  rates " in result.stdout
    assert "No capture devices found" not in result.stdout
