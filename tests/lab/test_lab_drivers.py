"""Inside the lab VM: the real kernel drivers are there and work (run by `make lab-test`)."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

# struct v4l2_capability: driver[16] card[32] bus_info[32] version capabilities device_caps
# reserved[3]; VIDIOC_QUERYCAP = _IOR('V', 0, struct v4l2_capability).
_CAPABILITY = struct.Struct("16s32s32sIII3I")
VIDIOC_QUERYCAP = (2 << 30) | (_CAPABILITY.size << 16) | (ord("V") << 8) | 0
V4L2_CAP_VIDEO_CAPTURE = 0x00000001
V4L2_CAP_STREAMING = 0x04000000


def test_runs_in_the_lab() -> None:
    assert os.environ.get("PARALLAX_LAB") == "1"
    assert os.geteuid() == 0
    assert "vivid" in Path("/proc/modules").read_text()


def test_vivid_capture_node_querycap() -> None:
    assert Path("/dev/video0").is_char_device()
    fd = os.open("/dev/video0", os.O_RDWR)
    try:
        buf = bytearray(_CAPABILITY.size)
        fcntl.ioctl(fd, VIDIOC_QUERYCAP, buf)
    finally:
        os.close(fd)
    driver, card, _bus, _version, _caps, device_caps, *_ = _CAPABILITY.unpack(buf)
    assert driver.rstrip(b"\0") == b"vivid"
    assert card.startswith(b"vivid")
    assert device_caps & V4L2_CAP_VIDEO_CAPTURE
    assert device_caps & V4L2_CAP_STREAMING


def test_v4l2_ctl_reports_vivid_and_streams() -> None:
    info = subprocess.run(
        ["v4l2-ctl", "-d", "/dev/video0", "--all"], capture_output=True, text=True, check=True
    )
    assert "Driver name      : vivid" in info.stdout
    stream = subprocess.run(
        ["v4l2-ctl", "-d", "/dev/video0", "--stream-mmap", "--stream-count=5", "--stream-to=-"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert len(stream.stdout) > 0


def test_alsa_cards_loopback_and_dummy() -> None:
    cards = Path("/proc/asound/cards").read_text()
    assert "Loopback" in cards
    assert "Dummy" in cards
    listing = subprocess.run(["aplay", "-l"], capture_output=True, text=True, check=True)
    assert "Loopback" in listing.stdout
    assert "Dummy" in listing.stdout


def test_dummy_card_records() -> None:
    frames = 4800
    fmt = ["-f", "S16_LE", "-r", "48000", "-c", "2", "-t", "raw"]
    rec = subprocess.run(
        ["arecord", "-q", "-D", "hw:Dummy", *fmt, "-s", str(frames), "-"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert len(rec.stdout) == frames * 2 * 2
