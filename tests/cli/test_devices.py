"""`parallax devices`: what can be captured, and what could not be looked at, said plainly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parallax import devices


def parallax(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parallax", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def no_daemon_env(tmp_path: Path) -> dict[str, str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    return {"XDG_RUNTIME_DIR": str(runtime), "PIPEWIRE_RUNTIME_DIR": str(runtime)}


# -- on this host (no camera, no sound card, no PipeWire daemon in the test's runtime dir) ----


def test_devices_json_has_three_sections(tmp_path):
    result = parallax("devices", "--json", env=no_daemon_env(tmp_path))
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert list(listing) == ["v4l2", "alsa", "pipewire"]
    for section in listing.values():
        assert section["status"] in ("ok", "none", "unreachable")
        assert bool(section["message"]) == (section["status"] != "ok")
    assert listing["pipewire"]["status"] == "unreachable"
    assert "no PipeWire daemon reachable (pw-dump: " in listing["pipewire"]["message"]
    if not list(Path("/dev").glob("video*")):
        assert listing["v4l2"] == {
            "status": "none",
            "message": "no V4L2 devices (/dev/video* does not exist)",
            "items": [],
        }


def test_devices_text_says_what_is_missing(tmp_path):
    env = no_daemon_env(tmp_path)
    text = parallax("devices", env=env)
    assert text.returncode == 0, text.stderr
    listing = json.loads(parallax("devices", "--json", env=env).stdout)
    for title in ("Video (V4L2):", "Audio (ALSA):", "PipeWire:"):
        assert title in text.stdout
    for section in listing.values():
        if section["status"] != "ok":
            assert f"  {section['message']}\n" in text.stdout
    capture = any(
        "capture" in item.get("capabilities", ()) for item in listing["v4l2"]["items"]
    ) or any(item["direction"] == "capture" for item in listing["alsa"]["items"])
    said = "No capture devices found: `parallax record` records the test sources."
    assert (said in text.stdout) == (not capture)


def test_v4l2_missing_and_unusable_nodes(tmp_path):
    none = devices.list_v4l2(str(tmp_path / "video*"))
    assert (none.status, none.items) == ("none", [])
    assert none.message == f"no V4L2 devices ({tmp_path}/video* does not exist)"
    (tmp_path / "video0").write_bytes(b"")  # not a device: the ioctl fails, the listing doesn't
    broken = devices.list_v4l2(str(tmp_path / "video*"))
    assert broken.items == [
        {"path": str(tmp_path / "video0"), "error": "Inappropriate ioctl for device"}
    ]
    assert "cannot open: Inappropriate ioctl" in devices.format_sections([broken])


def test_alsa_without_sound_support(tmp_path):
    section = devices.list_alsa(str(tmp_path / "asound"))
    assert section.status == "unreachable"
    assert section.message == f"no ALSA in this kernel ({tmp_path}/asound does not exist)"


def test_alsa_proc_listing_is_parsed(tmp_path):
    """The /proc/asound text format (the lab test reads the real one and probes the PCMs)."""
    root = tmp_path / "asound"
    root.mkdir()
    (root / "cards").write_text(
        " 0 [Loopback       ]: Loopback - Loopback\n"
        "                      Loopback 1\n"
        " 1 [Dummy          ]: Dummy - Dummy\n"
        "                      Dummy 1\n"
    )
    (root / "pcm").write_text(
        "00-00: Loopback PCM : Loopback PCM : playback 8 : capture 8\n"
        "01-00: Dummy PCM : Dummy PCM : playback 8\n"
    )
    section = devices.list_alsa(str(root), dev=str(tmp_path / "snd"))
    assert [(i["name"], i["direction"], i["subdevices"]) for i in section.items] == [
        ("hw:Loopback,0", "playback", 8),
        ("hw:Loopback,0", "capture", 8),
        ("hw:Dummy,0", "playback", 8),
    ]
    assert section.items[1]["node"] == f"{tmp_path}/snd/pcmC0D0c"
    assert section.items[1]["probe"] == "not probed: No such file or directory"
    text = devices.format_sections([section])
    assert "hw:Loopback,0    capture  'Loopback PCM'  not probed: No such file" in text


def test_pcm_probe_error_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        devices.probe_pcm(str(tmp_path / "pcmC9D9c"))


# -- a private PipeWire daemon -------------------------------------------------------------------


@pytest.fixture
def pipewire_daemon(tmp_path):
    if shutil.which("pipewire") is None:
        pytest.fail("pipewire is not installed")
    env = no_daemon_env(tmp_path)
    daemon = subprocess.Popen(
        ["pipewire"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        socket = Path(env["XDG_RUNTIME_DIR"]) / "pipewire-0"
        deadline = time.monotonic() + 10
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert socket.exists(), "the private PipeWire daemon did not start"
        yield env
    finally:
        daemon.terminate()
        daemon.wait(5)


@pytest.mark.pipewire
def test_devices_lists_pipewire_nodes(pipewire_daemon):
    subprocess.run(
        ["pw-cli", "create-node", "adapter",
         "{ factory.name=support.null-audio-sink node.name=parallax-test-source "
         'node.description="Parallax test source" media.class=Audio/Source/Virtual '
         "object.linger=true audio.position=[FL FR] }"],
        env={**os.environ, **pipewire_daemon}, check=True, timeout=10, capture_output=True,
    )  # fmt: skip
    listing = json.loads(parallax("devices", "--json", env=pipewire_daemon).stdout)
    section = listing["pipewire"]
    assert section["status"] == "ok" and section["message"] == ""
    (node,) = [n for n in section["items"] if n["name"] == "parallax-test-source"]
    assert node["media_class"] == "Audio/Source/Virtual"
    assert node["description"] == "Parallax test source"
    assert isinstance(node["id"], int)
    text = parallax("devices", env=pipewire_daemon).stdout
    assert f"{node['id']:>5}  parallax-test-source  Audio/Source/Virtual  Parallax test source" in (
        text
    )
