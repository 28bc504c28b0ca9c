"""A V4L2 capture device: opening, discovery, formats as caps, negotiation, controls.

The control path goes through linuxpy (the ioctls as ctypes structs from ``videodev2.h``):
VIDIOC_QUERYCAP, ENUM_FMT, ENUM_FRAMESIZES, ENUM_FRAMEINTERVALS, G/S_FMT, G/S_PARM and the
controls. The streaming path (buffers, dequeue) is `parallax._ext.v4l2.Stream`. Errors are
`DeviceError`s naming the device and what exists instead.
"""

from __future__ import annotations

import dataclasses
import errno
import glob
import io
import os
from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import Any

from linuxpy.ioctl import ioctl
from linuxpy.video import raw
from linuxpy.video.device import ButtonControl, iter_read
from linuxpy.video.device import Device as LinuxpyDevice

from parallax.caps import PIXEL_FORMATS, VIDEO_RAW, Caps, Structure, VideoFormat
from parallax.errors import DeviceError, device_error

# V4L2 fourcc -> our pixel format name (GStreamer's). Memory byte order must match: XR24
# (V4L2_PIX_FMT_XBGR32) is B,G,R,X in memory, which GStreamer calls BGRx.
FOURCC_FORMATS: dict[str, str] = {
    "YUYV": "YUY2",
    "UYVY": "UYVY",
    "NV12": "NV12",
    "YU12": "I420",
    "RGB3": "RGB",
    "BGR3": "BGR",
    "GREY": "GRAY8",
    "XR24": "BGRx",
    "XB24": "RGBx",
}
FORMAT_FOURCCS = {name: fourcc for fourcc, name in FOURCC_FORMATS.items()}

_CAPTURE = raw.BufType.VIDEO_CAPTURE
_CAP_VIDEO_CAPTURE = 0x0000_0001
_CAP_VIDEO_CAPTURE_MPLANE = 0x0000_1000
_CAP_STREAMING = 0x0400_0000
_CAP_DEVICE_CAPS = 0x8000_0000
_FRMSIZE_DISCRETE = 1
_FRMIVAL_DISCRETE = 1


def fourcc_code(text: str) -> int:
    """``"YUYV"`` -> the little-endian 32-bit code V4L2 uses."""
    return int.from_bytes(text.encode("ascii"), "little")


def fourcc_text(code: int) -> str:
    """The 32-bit code -> ``"YUYV"`` (printable; a big-endian flag bit is dropped)."""
    return (code & 0x7FFF_FFFF).to_bytes(4, "little").decode("ascii", "replace").rstrip()


@dataclasses.dataclass(frozen=True)
class Mode:
    """One capture mode the device enumerates.

    Attributes
    ----------
    fourcc : str
        V4L2 pixel format (``YUYV``).
    width, height : int or None
        Pixels; None when the device takes a range of sizes (stepwise or continuous).
    rates : tuple of Fraction
        Frame rates (frames per second, exact); empty when any rate in a range is allowed.
    """

    fourcc: str
    width: int | None
    height: int | None
    rates: tuple[Fraction, ...]

    @property
    def pixel_format(self) -> str | None:
        """Our name for the pixel format, or None when Parallax does not handle it."""
        return FOURCC_FORMATS.get(self.fourcc)

    def structure(self) -> Structure:
        """The caps structure of this mode (only for a handled pixel format)."""
        fields: dict[str, Any] = {"format": self.pixel_format}
        if self.width is not None:
            fields["width"] = self.width
            fields["height"] = self.height
        if self.rates:
            fields["framerate"] = self.rates[0] if len(self.rates) == 1 else self.rates
        return Structure(VIDEO_RAW, fields)


@dataclasses.dataclass(frozen=True)
class Layout:
    """How a negotiated format lies in a driver buffer (from VIDIOC_S_FMT).

    Attributes
    ----------
    shape, strides : tuple of int
        Of the numpy view (bytes): packed ``(height, width, bytes per pixel)`` (or
        ``(height, width)`` for one byte), NV12/I420 ``(height * 3 // 2, width)`` when rows
        have no padding, else a flat ``(sizeimage,)``.
    nbytes : int
        Bytes a frame needs (``sizeimage``).
    bytesperline : int
    """

    shape: tuple[int, ...]
    strides: tuple[int, ...]
    nbytes: int
    bytesperline: int


def frame_layout(
    pixel_format: str, width: int, height: int, bytesperline: int, sizeimage: int
) -> Layout:
    """The numpy layout of a frame in a driver buffer (see `Layout`)."""
    bpp = PIXEL_FORMATS.get(pixel_format)
    if bpp is not None:
        if bpp == 1:
            return Layout((height, width), (bytesperline, 1), sizeimage, bytesperline)
        return Layout((height, width, bpp), (bytesperline, bpp, 1), sizeimage, bytesperline)
    if bytesperline == width and sizeimage >= width * height * 3 // 2:
        return Layout((height * 3 // 2, width), (width, 1), sizeimage, bytesperline)
    return Layout((sizeimage,), (1,), sizeimage, bytesperline)


def list_devices() -> list[tuple[str, str]]:
    """The V4L2 nodes that exist: ``[("/dev/video0", "vivid: Webcam"), ...]``; the second
    item is ``driver: card`` or why the node could not be asked.
    """
    found = []
    for path in sorted(glob.glob("/dev/video*"), key=lambda p: (len(p), p)):
        try:
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            found.append((path, os.strerror(error.errno or 0).lower()))
            continue
        try:
            capability = _querycap(fd)
            found.append((path, f"{_text(capability.driver)}: {_text(capability.card)}"))
        except OSError as error:
            found.append((path, os.strerror(error.errno or 0).lower()))
        finally:
            os.close(fd)
    return found


def _existing_devices() -> str:
    devices = list_devices()
    if not devices:
        return "there is no /dev/video* device on this machine"
    return "found " + ", ".join(f"{path} ({what})" for path, what in devices)


def _text(value: bytes) -> str:
    return value.split(b"\0", 1)[0].decode("utf-8", "replace")


def _querycap(fd: int) -> raw.v4l2_capability:
    capability = raw.v4l2_capability()
    ioctl(fd, raw.IOC.QUERYCAP, capability)
    return capability


class V4l2Device:
    """An open V4L2 video capture node.

    Parameters
    ----------
    path : str
        ``/dev/videoN``.

    Raises
    ------
    DeviceError
        The path does not exist (`DeviceNotFoundError`), may not be opened
        (`DevicePermissionError`), is not a V4L2 device, or cannot capture video by
        streaming; the message lists the video devices that exist.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            if error.errno == errno.ENOENT:
                raise device_error(
                    path, f"no such device; {_existing_devices()}", error.errno
                ) from None
            raise device_error(
                path, f"cannot open it; {_existing_devices()}", error.errno
            ) from None
        try:
            capability = _querycap(self.fd)
        except OSError as error:
            os.close(self.fd)
            raise device_error(
                path,
                f"not a V4L2 video device (VIDIOC_QUERYCAP failed); {_existing_devices()}",
                error.errno,
            ) from None
        caps = capability.capabilities
        if caps & _CAP_DEVICE_CAPS:
            caps = capability.device_caps
        self.driver = _text(capability.driver)
        self.card = _text(capability.card)
        if not caps & _CAP_VIDEO_CAPTURE or not caps & _CAP_STREAMING:
            os.close(self.fd)
            what = (
                "a multi-planar capture device (not supported yet)"
                if caps & _CAP_VIDEO_CAPTURE_MPLANE
                else "not a video capture device with streaming I/O"
            )
            raise DeviceError(path, f"{self.driver} ({self.card}) is {what}; {_existing_devices()}")
        # linuxpy works on the same open file (not closing it: we do)
        handle = io.FileIO(self.fd, "r+", closefd=False)
        handle.name = path
        self._linuxpy = LinuxpyDevice(handle)
        self._modes: list[Mode] | None = None

    def close(self) -> None:
        """Close the device (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __repr__(self) -> str:
        return f"<V4l2Device {self.path} {self.driver}: {self.card}>"

    # -- discovery ----------------------------------------------------------------------------

    def modes(self) -> list[Mode]:
        """Every (pixel format, size, frame rates) the device enumerates, in its order."""
        if self._modes is None:
            self._modes = list(self._enumerate())
        return self._modes

    def _enumerate(self) -> Iterator[Mode]:
        description = raw.v4l2_fmtdesc()
        description.type = _CAPTURE
        fourccs = [entry.pixelformat for entry in iter_read(self.fd, raw.IOC.ENUM_FMT, description)]
        for code in fourccs:
            size = raw.v4l2_frmsizeenum()
            size.pixel_format = code
            sizes = [
                (entry.type, entry.discrete.width, entry.discrete.height)
                for entry in iter_read(self.fd, raw.IOC.ENUM_FRAMESIZES, size)
            ]
            if not sizes or sizes[0][0] != _FRMSIZE_DISCRETE:
                yield Mode(fourcc_text(code), None, None, ())
                continue
            for _kind, width, height in sizes:
                yield Mode(fourcc_text(code), width, height, self._rates(code, width, height))

    def _rates(self, code: int, width: int, height: int) -> tuple[Fraction, ...]:
        interval = raw.v4l2_frmivalenum()
        interval.pixel_format = code
        interval.width = width
        interval.height = height
        rates = []
        for entry in iter_read(self.fd, raw.IOC.ENUM_FRAMEINTERVALS, interval):
            if entry.type != _FRMIVAL_DISCRETE:
                return ()  # a range: any rate in it, checked at S_PARM
            fraction = entry.discrete
            if fraction.numerator:
                rates.append(Fraction(fraction.denominator, fraction.numerator))
        return tuple(rates)

    def caps(self) -> Caps:
        """What the device can give, as caps: one structure per handled format and size, the
        current format first (it is what the device prefers).
        """
        structures = [mode.structure() for mode in self.modes() if mode.pixel_format]
        current = self.current_format()
        if current is not None:
            first = [
                s
                for s in structures
                if s.get("format") == current.pixel_format
                and s.get("width") in (current.width, None)
                and s.get("height") in (current.height, None)
            ]
            structures = first + [s for s in structures if s not in first]
        return Caps(structures)

    def current_format(self) -> VideoFormat | None:
        """The device's current format and rate (VIDIOC_G_FMT, G_PARM), None when Parallax
        does not handle its pixel format.
        """
        fmt = raw.v4l2_format()
        fmt.type = _CAPTURE
        ioctl(self.fd, raw.IOC.G_FMT, fmt)
        name = FOURCC_FORMATS.get(fourcc_text(fmt.fmt.pix.pixelformat))
        if name is None:
            return None
        return VideoFormat(fmt.fmt.pix.width, fmt.fmt.pix.height, name, self._get_rate())

    def _get_rate(self) -> Fraction:
        parm = raw.v4l2_streamparm()
        parm.type = _CAPTURE
        try:
            ioctl(self.fd, raw.IOC.G_PARM, parm)
        except OSError:
            return Fraction(0)  # no frame-rate control: variable
        interval = parm.parm.capture.timeperframe
        if not interval.numerator:
            return Fraction(0)
        return Fraction(interval.denominator, interval.numerator)

    def describe_modes(self) -> str:
        """What the device supports, for error messages: formats, sizes with their fastest
        rate, and the pixel formats Parallax does not handle.
        """
        modes = self.modes()
        handled = sorted({m.pixel_format for m in modes if m.pixel_format})
        unhandled = sorted({m.fourcc for m in modes if not m.pixel_format})
        sizes: dict[tuple[int, int], Fraction] = {}
        ranged = False
        for mode in modes:
            if mode.width is None or mode.height is None:
                ranged = True
                continue
            fastest = max(mode.rates, default=Fraction(0))
            key = (mode.width, mode.height)
            sizes[key] = max(sizes.get(key, Fraction(0)), fastest)
        size_text = ", ".join(
            f"{w}x{h}" + (f" (up to {rate} fps)" if rate else "")
            for (w, h), rate in sorted(sizes.items())
        )
        if ranged:
            size_text = (size_text + ", " if size_text else "") + "a range of sizes"
        text = f"{self.driver} ({self.card}) supports formats {', '.join(handled) or 'none'}"
        if size_text:
            text += f"; sizes {size_text}"
        if unhandled:
            shown = ", ".join(unhandled[:6]) + (", ..." if len(unhandled) > 6 else "")
            text += f" (and {len(unhandled)} pixel formats Parallax does not handle: {shown})"
        return text

    # -- negotiation --------------------------------------------------------------------------

    def configure(self, fmt: VideoFormat) -> Layout:
        """Set ``fmt`` (VIDIOC_S_FMT, then S_PARM for its rate) and check the driver took it.

        Raises
        ------
        DeviceError
            The driver adjusted the size, format or rate (not supported: the message says what
            is), or refused (`DeviceBusyError` when another file handle is streaming).
        """
        fourcc = FORMAT_FOURCCS.get(fmt.pixel_format)
        if fourcc is None:
            raise DeviceError(
                self.path, f"cannot capture {fmt.pixel_format}; {self.describe_modes()}"
            )
        request = raw.v4l2_format()
        request.type = _CAPTURE
        request.fmt.pix.width = fmt.width
        request.fmt.pix.height = fmt.height
        request.fmt.pix.pixelformat = fourcc_code(fourcc)
        request.fmt.pix.field = raw.Field.ANY
        self._ioctl(raw.IOC.S_FMT, request, f"cannot set {fmt}")
        pix = request.fmt.pix
        got = (fourcc_text(pix.pixelformat), pix.width, pix.height)
        if got != (fourcc, fmt.width, fmt.height):
            raise DeviceError(
                self.path,
                f"does not support {fmt.pixel_format} {fmt.width}x{fmt.height} (the driver "
                f"offered {got[0]} {got[1]}x{got[2]}); {self.describe_modes()}",
            )
        if fmt.fps:
            self._set_rate(fmt)
        return frame_layout(
            fmt.pixel_format, fmt.width, fmt.height, pix.bytesperline, pix.sizeimage
        )

    def _set_rate(self, fmt: VideoFormat) -> None:
        parm = raw.v4l2_streamparm()
        parm.type = _CAPTURE
        parm.parm.capture.timeperframe.numerator = fmt.fps.denominator
        parm.parm.capture.timeperframe.denominator = fmt.fps.numerator
        self._ioctl(raw.IOC.S_PARM, parm, f"cannot set {fmt.fps} fps")
        interval = parm.parm.capture.timeperframe
        got = Fraction(interval.denominator, interval.numerator) if interval.numerator else None
        if got != fmt.fps:
            rates = next(
                (m.rates for m in self.modes() if (m.width, m.height) == (fmt.width, fmt.height)),
                (),
            )
            raise DeviceError(
                self.path,
                f"does not support {fmt.fps} fps at {fmt.width}x{fmt.height} (the driver set "
                f"{got}); rates there: {', '.join(map(str, rates)) or 'unknown'}",
            )

    def _ioctl(self, request: int, argument: Any, what: str) -> None:
        try:
            ioctl(self.fd, request, argument)
        except OSError as error:
            if error.errno == errno.EBUSY:
                raise device_error(
                    self.path,
                    f"{what}: the device is busy, another program or element is capturing from "
                    "it; stop that one or use another device",
                    error.errno,
                ) from None
            raise device_error(self.path, f"{what}; {self.describe_modes()}", error.errno) from None

    # -- controls -----------------------------------------------------------------------------

    def control_names(self) -> list[str]:
        """The names of the device's controls (``brightness``, ``timestamp_source``...)."""
        return sorted(control.config_name for control in self._linuxpy.controls.values())

    def set_controls(self, values: Mapping[str, int]) -> None:
        """Set controls by name (linuxpy's ``config_name``: lower case, ``_`` for spaces);
        a button control is pressed by a non-zero value.

        Raises
        ------
        DeviceError
            No such control (the message lists them) or the driver refused the value.
        """
        controls = self._linuxpy.controls
        for name, value in values.items():
            try:
                control = controls[name]
            except KeyError:
                raise DeviceError(
                    self.path,
                    f"has no control {name!r}; it has: {', '.join(self.control_names())}",
                ) from None
            try:
                if isinstance(control, ButtonControl):
                    if value:
                        control.push()  # a button has no value: 1 presses it
                else:
                    control.value = value
            except (OSError, AttributeError, ValueError) as error:
                raise DeviceError(
                    self.path, f"cannot set control {name}={value}: {error}"
                ) from None

    def get_control(self, name: str) -> int:
        """A control's current value."""
        return int(self._linuxpy.controls[name].value)
