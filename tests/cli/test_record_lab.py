"""Inside the lab VM: `parallax record` from the real vivid camera and the ALSA loopback card."""

from __future__ import annotations

import json
import subprocess
import sys
import wave

import numpy as np
import pytest

pytestmark = pytest.mark.lab

RATE = 48000


def test_record_vivid_and_loopback_for_three_seconds(tmp_path):
    # A tone played into the loopback's playback side comes out of its capture side.
    tone = np.round(0.5 * 32767 * np.sin(2 * np.pi * 1000 * np.arange(10 * RATE) / RATE))
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.repeat(tone.astype("<i2")[:, None], 2, axis=1).tobytes())
    player = subprocess.Popen(["aplay", "-q", "-D", "hw:Loopback,0,0", str(path)])
    output = tmp_path / "lab.mp4"
    try:
        result = subprocess.run(
            [
                sys.executable, "-m", "parallax", "record", str(output),
                "--video", "/dev/video0", "--audio", "hw:Loopback,1,0",
                "--duration", "3", "--size", "320x180",
            ],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    finally:
        player.kill()
        player.wait(10)
    assert result.returncode == 0, result.stderr
    assert f"wrote {output}" in result.stdout
    analysis = subprocess.run(
        [sys.executable, "-m", "parallax", "analyze", str(output), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert analysis.returncode == 0, analysis.stderr
    streams = {s["kind"]: s for s in json.loads(analysis.stdout)["streams"]}
    video, audio = streams["video"], streams["audio"]
    # 3 s of capture, stopped by a timer: the file holds about 3 s of each stream
    assert 2.5e9 <= video["duration"] <= 3.6e9, video
    assert 2.5e9 <= audio["duration"] <= 3.6e9, audio
    assert video["count"] >= 45  # vivid at 30 fps under TCG may drop some, never most
    assert video["non_monotonic"] == 0 and audio["non_monotonic"] == 0
