"""What can be captured here: V4L2 video devices, ALSA PCMs and PipeWire nodes.

`list_devices` returns one `DeviceSection` per subsystem, each saying plainly what it found
or why it could not look (no devices, permission denied, no PipeWire daemon). Nothing here
blocks: device nodes are opened non-blocking, ``pw-dump`` has a timeout.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import fcntl
import glob
import json
import os
import re
import shutil
import subprocess
from fractions import Fraction
from typing import Any

PW_DUMP_TIMEOUT = 5.0
"""Seconds ``pw-dump`` may take to answer."""


@dataclasses.dataclass
class DeviceSection:
    """What one subsystem has.

    Attributes
    ----------
    key : str
        ``v4l2``, ``alsa`` or ``pipewire`` (the JSON key).
    title : str
        For people.
    status : str
        ``ok`` (devices found), ``none`` (looked, found nothing) or ``unreachable``.
    message : str
        Why nothing is listed, in plain words (empty when ``ok``).
    items : list of dict
        One JSON-ready dict per device, PCM or node.
    """

    key: str
    title: str
    status: str = "ok"
    message: str = ""
    items: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"status": self.status, "message": self.message, "items": self.items}


def list_devices() -> list[DeviceSection]:
    """V4L2, ALSA and PipeWire, in that order."""
    return [list_v4l2(), list_alsa(), list_pipewire()]


def _oserror_text(error: OSError) -> str:
    if error.errno == errno.EACCES:
        return "permission denied (add the user to the 'video' or 'audio' group)"
    if error.errno == errno.EBUSY:
        return "busy (in use by another program)"
    return os.strerror(error.errno) if error.errno else str(error)


# -- V4L2 ------------------------------------------------------------------------------------


def _fourcc(code: int) -> str:
    return "".join(chr((code >> shift) & 0xFF) for shift in (0, 8, 16, 24)).strip()


def list_v4l2(pattern: str = "/dev/video*") -> DeviceSection:
    """V4L2 devices: path, driver, card, capabilities, formats with sizes and frame rates."""
    section = DeviceSection("v4l2", "Video (V4L2)")
    paths = sorted(glob.glob(pattern), key=lambda p: (len(p), p))
    if not paths:
        section.status, section.message = "none", f"no V4L2 devices ({pattern} does not exist)"
        return section
    try:
        from linuxpy.video import device as v4l2
    except ImportError:  # a dependency, but say so rather than fail the whole listing
        section.status, section.message = "unreachable", "linuxpy is not installed"
        return section
    for path in paths:
        try:
            section.items.append(_probe_v4l2(v4l2, path))
        except OSError as error:
            section.items.append({"path": path, "error": _oserror_text(error)})
    return section


def _probe_v4l2(v4l2: Any, path: str) -> dict[str, Any]:
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        caps = v4l2.read_capabilities(fd)
        device_caps = v4l2.Capability(caps.device_caps)
        kinds = [
            name
            for flag, name in (
                (v4l2.Capability.VIDEO_CAPTURE, "capture"),
                (v4l2.Capability.VIDEO_CAPTURE_MPLANE, "capture"),
                (v4l2.Capability.VIDEO_OUTPUT, "output"),
                (v4l2.Capability.VIDEO_OUTPUT_MPLANE, "output"),
                (v4l2.Capability.META_CAPTURE, "metadata"),
                (v4l2.Capability.VBI_CAPTURE, "vbi"),
                (v4l2.Capability.SDR_CAPTURE, "sdr"),
                (v4l2.Capability.STREAMING, "streaming"),
            )
            if flag in device_caps
        ]
        buffer_type = None
        if v4l2.Capability.VIDEO_CAPTURE in device_caps:
            buffer_type = v4l2.BufferType.VIDEO_CAPTURE
        elif v4l2.Capability.VIDEO_CAPTURE_MPLANE in device_caps:
            buffer_type = v4l2.BufferType.VIDEO_CAPTURE_MPLANE
        formats = [] if buffer_type is None else _v4l2_formats(v4l2, fd, buffer_type)
        return {
            "path": path,
            "driver": caps.driver.decode(),
            "card": caps.card.decode(),
            "bus": caps.bus_info.decode(),
            "capabilities": list(dict.fromkeys(kinds)),
            "formats": formats,
        }
    finally:
        os.close(fd)


def _v4l2_formats(v4l2: Any, fd: int, buffer_type: Any) -> list[dict[str, Any]]:
    raw, ioc = v4l2.raw, v4l2.IOC
    formats = []
    desc = raw.v4l2_fmtdesc()
    desc.type = buffer_type
    for found in v4l2.iter_read(fd, ioc.ENUM_FMT, desc):
        code = int(found.pixelformat)
        sizes = []
        size = raw.v4l2_frmsizeenum()
        size.pixel_format = code
        for entry in v4l2.iter_read(fd, ioc.ENUM_FRAMESIZES, size):
            if entry.type == v4l2.FrameSizeType.DISCRETE:
                width, height = int(entry.m1.discrete.width), int(entry.m1.discrete.height)
                sizes.append(
                    {
                        "width": width,
                        "height": height,
                        "fps": _v4l2_rates(v4l2, fd, code, width, height),
                    }
                )
            else:  # stepwise or continuous: one range
                step = entry.m1.stepwise
                sizes.append(
                    {
                        "width": [int(step.min_width), int(step.max_width)],
                        "height": [int(step.min_height), int(step.max_height)],
                        "fps": [],
                    }
                )
                break
        formats.append(
            {"fourcc": _fourcc(code), "description": found.description.decode(), "sizes": sizes}
        )
    return formats


def _v4l2_rates(v4l2: Any, fd: int, code: int, width: int, height: int) -> list[str]:
    """Frame rates as exact fractions (fps = 1 / interval), fastest first."""
    value = v4l2.raw.v4l2_frmivalenum()
    value.pixel_format, value.width, value.height = code, width, height
    rates: list[Fraction] = []
    for entry in v4l2.iter_read(fd, v4l2.IOC.ENUM_FRAMEINTERVALS, value):
        if entry.type == v4l2.FrameIntervalType.DISCRETE:
            interval = entry.m1.discrete
            if interval.numerator:
                rates.append(Fraction(int(interval.denominator), int(interval.numerator)))
        else:
            low, high = entry.m1.stepwise.max, entry.m1.stepwise.min
            if low.numerator and high.numerator:
                rates += [
                    Fraction(int(low.denominator), int(low.numerator)),
                    Fraction(int(high.denominator), int(high.numerator)),
                ]
            break
    return [str(rate) for rate in sorted(set(rates), reverse=True)]


# -- ALSA ------------------------------------------------------------------------------------


class _Mask(ctypes.Structure):
    _fields_ = [("bits", ctypes.c_uint32 * 8)]


class _Interval(ctypes.Structure):
    # min, max, then the bit fields openmin:1 openmax:1 integer:1 empty:1
    _fields_ = [("min", ctypes.c_uint), ("max", ctypes.c_uint), ("flags", ctypes.c_uint)]


class _HwParams(ctypes.Structure):
    """``struct snd_pcm_hw_params`` of <sound/asound.h>."""

    _fields_ = [
        ("flags", ctypes.c_uint),
        ("masks", _Mask * 3),
        ("mres", _Mask * 5),
        ("intervals", _Interval * 12),
        ("ires", _Interval * 9),
        ("rmask", ctypes.c_uint),
        ("cmask", ctypes.c_uint),
        ("info", ctypes.c_uint),
        ("msbits", ctypes.c_uint),
        ("rate_num", ctypes.c_uint),
        ("rate_den", ctypes.c_uint),
        ("fifo_size", ctypes.c_ulong),
        ("reserved", ctypes.c_ubyte * 64),
    ]


# _IOWR('A', 0x10, struct snd_pcm_hw_params): ask the driver what it can do, set nothing.
_HW_REFINE = (3 << 30) | (ctypes.sizeof(_HwParams) << 16) | (ord("A") << 8) | 0x10
_MASK_FORMAT = 1
_INTERVAL_CHANNELS = 10 - 8  # SNDRV_PCM_HW_PARAM_CHANNELS - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL
_INTERVAL_RATE = 11 - 8
# SNDRV_PCM_FORMAT_* names by value ("-": unused values)
_FORMATS = (  # noqa: SIM905 (a list literal would take 44 lines)
    "S8 U8 S16_LE S16_BE U16_LE U16_BE S24_LE S24_BE U24_LE U24_BE S32_LE S32_BE U32_LE U32_BE "
    "FLOAT_LE FLOAT_BE FLOAT64_LE FLOAT64_BE IEC958_SUBFRAME_LE IEC958_SUBFRAME_BE MU_LAW A_LAW "
    "IMA_ADPCM MPEG GSM S20_LE S20_BE U20_LE U20_BE - - SPECIAL S24_3LE S24_3BE U24_3LE U24_3BE "
    "S20_3LE S20_3BE U20_3LE U20_3BE S18_3LE S18_3BE U18_3LE U18_3BE G723_24 G723_24_1B G723_40 "
    "G723_40_1B DSD_U8 DSD_U16_LE DSD_U32_LE DSD_U16_BE DSD_U32_BE"
).split()
# Only the defined formats are offered: a driver leaves bits it does not know untouched.


def probe_pcm(node: str) -> dict[str, Any]:
    """Rates, channels and sample formats a PCM device node allows (``HW_REFINE``).

    Opens ``node`` (``/dev/snd/pcmC0D0c``) non-blocking; nothing is configured.

    Raises
    ------
    OSError
        The node cannot be opened (missing, permission denied, busy) or refuses the query.
    """
    params = _HwParams()
    for mask in params.masks:
        for index in range(8):
            mask.bits[index] = 0xFFFFFFFF
    formats_mask = params.masks[_MASK_FORMAT].bits
    for bit in range(256):
        if bit >= len(_FORMATS) or _FORMATS[bit] == "-":
            formats_mask[bit // 32] &= ~(1 << (bit % 32)) & 0xFFFFFFFF
    for interval in params.intervals:
        interval.min, interval.max = 0, 0xFFFFFFFF
    params.rmask = 0xFFFFFFFF
    fd = os.open(node, os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, _HW_REFINE, params)
    finally:
        os.close(fd)
    bits = params.masks[_MASK_FORMAT].bits
    formats = [_FORMATS[i] for i in range(len(_FORMATS)) if bits[i // 32] >> (i % 32) & 1]
    rate, channels = params.intervals[_INTERVAL_RATE], params.intervals[_INTERVAL_CHANNELS]
    return {
        "rates": [int(rate.min), int(rate.max)],
        "channels": [int(channels.min), int(channels.max)],
        "formats": formats,
    }


_CARD = re.compile(r"^\s*(\d+) \[(\S+)\s*\]: (.+?) - (.+)$")


def list_alsa(root: str = "/proc/asound", dev: str = "/dev/snd") -> DeviceSection:
    """ALSA PCMs: ``hw:CARD,DEVICE`` name, card, direction, and what the hardware allows."""
    section = DeviceSection("alsa", "Audio (ALSA)")
    if not os.path.isdir(root):
        section.status = "unreachable"
        section.message = f"no ALSA in this kernel ({root} does not exist)"
        return section
    cards: dict[int, tuple[str, str]] = {}
    try:
        with open(os.path.join(root, "cards"), encoding="utf-8") as listing:
            for line in listing:
                match = _CARD.match(line)
                if match:
                    cards[int(match[1])] = (match[2], match[4].strip())
        pcm_lines = []
        if os.path.exists(os.path.join(root, "pcm")):
            with open(os.path.join(root, "pcm"), encoding="utf-8") as listing:
                pcm_lines = listing.read().splitlines()
    except OSError as error:
        section.status, section.message = "unreachable", f"{root}: {_oserror_text(error)}"
        return section
    for line in pcm_lines:
        # "00-01: Loopback PCM : Loopback PCM : playback 8 : capture 8"
        parts = [part.strip() for part in line.split(":")]
        card_text, _, device_text = parts[0].partition("-")
        card, device = int(card_text), int(device_text)
        card_id, card_name = cards.get(card, (str(card), ""))
        for part in parts[3:]:
            direction, _, count = part.partition(" ")
            if direction not in ("playback", "capture"):
                continue
            node = os.path.join(dev, f"pcmC{card}D{device}{direction[0]}")
            item: dict[str, Any] = {
                "name": f"hw:{card_id},{device}",
                "card": card_id,
                "card_name": card_name,
                "device": device,
                "pcm_name": parts[1],
                "direction": direction,
                "subdevices": int(count) if count.isdigit() else None,
                "node": node,
            }
            try:
                item.update(probe_pcm(node))
            except OSError as error:
                item["probe"] = f"not probed: {_oserror_text(error)}"
            section.items.append(item)
    if not section.items:
        section.status = "none"
        section.message = "no sound cards" if not cards else "sound cards have no PCM devices"
    return section


# -- PipeWire --------------------------------------------------------------------------------


def list_pipewire(timeout: float = PW_DUMP_TIMEOUT) -> DeviceSection:
    """PipeWire nodes from ``pw-dump``: id, name, description, media class."""
    section = DeviceSection("pipewire", "PipeWire")
    tool = shutil.which("pw-dump")
    if tool is None:
        section.status = "unreachable"
        section.message = "pw-dump is not installed (Debian package pipewire-bin)"
        return section
    try:
        result = subprocess.run(
            [tool], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        section.status = "unreachable"
        section.message = f"pw-dump did not answer within {timeout:g} s"
        return section
    if result.returncode != 0:
        why = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        section.status = "unreachable"
        section.message = f"no PipeWire daemon reachable (pw-dump: {why})"
        if "ermission" in why:
            section.message = f"PipeWire refused access (pw-dump: {why})"
        return section
    try:
        objects = json.loads(result.stdout or "[]")
    except json.JSONDecodeError as error:
        section.status, section.message = "unreachable", f"pw-dump printed no JSON ({error})"
        return section
    for thing in objects:
        if thing.get("type") != "PipeWire:Interface:Node":
            continue
        props = (thing.get("info") or {}).get("props") or {}
        section.items.append(
            {
                "id": thing.get("id"),
                "name": props.get("node.name"),
                "description": props.get("node.description"),
                "media_class": props.get("media.class"),
            }
        )
    if not section.items:
        section.status, section.message = "none", "the PipeWire daemon has no nodes"
    return section


# -- text for people -------------------------------------------------------------------------


def format_sections(sections: list[DeviceSection]) -> str:
    """The table ``parallax devices`` prints."""
    lines: list[str] = []
    for section in sections:
        lines.append(f"{section.title}:")
        if section.status != "ok":
            lines.append(f"  {section.message}")
        for item in section.items:
            lines += _format_item(section.key, item)
        lines.append("")
    if not any(s.status == "ok" and _has_capture(s) for s in sections):
        lines.append("No capture devices found: `parallax record` records the test sources.")
    return "\n".join(lines).rstrip() + "\n"


def _has_capture(section: DeviceSection) -> bool:
    if section.key == "v4l2":
        return any("capture" in item.get("capabilities", ()) for item in section.items)
    if section.key == "alsa":
        return any(item["direction"] == "capture" for item in section.items)
    return any("Source" in str(item.get("media_class")) for item in section.items)


def _format_sizes(sizes: list[dict[str, Any]]) -> str:
    """``320x180@60,50,25/2 640x480@25`` (rates are fractions: 25/2 is 12.5 fps)."""
    texts = []
    for size in sizes:
        if isinstance(size["width"], list):
            texts.append(
                f"{size['width'][0]}x{size['height'][0]}..{size['width'][1]}x{size['height'][1]}"
            )
        else:
            texts.append(f"{size['width']}x{size['height']}@{','.join(size['fps']) or '?'}")
    return " ".join(texts)


def _format_item(key: str, item: dict[str, Any]) -> list[str]:
    if key == "v4l2":
        if "error" in item:
            return [f"  {item['path']}  cannot open: {item['error']}"]
        head = (
            f"  {item['path']}  {item['driver']}  {item['card']!r}  "
            f"{', '.join(item['capabilities'])}"
        )
        lines = [head]
        # Drivers often offer every size at every format: one line per distinct size list.
        groups: dict[str, list[str]] = {}
        for fmt in item["formats"]:
            groups.setdefault(_format_sizes(fmt["sizes"]) or fmt["description"], []).append(
                fmt["fourcc"]
            )
        for sizes, fourccs in groups.items():
            lines.append(f"      {' '.join(fourccs)}")
            lines.append(f"          {sizes}")
        return lines
    if key == "alsa":
        if "probe" in item:
            what = item["probe"]
        else:
            low, high = item["rates"]
            c_low, c_high = item["channels"]
            what = (
                f"rates {low}-{high} Hz, channels {c_low}-{c_high}, "
                f"{', '.join(item['formats'][:6])}"
            )
        return [f"  {item['name']:16} {item['direction']:8} {item['pcm_name']!r}  {what}"]
    return [
        f"  {item['id']!s:>5}  {item['name'] or '?'}  "
        f"{item['media_class'] or '?'}  {item['description'] or ''}".rstrip()
    ]
