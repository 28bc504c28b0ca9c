"""The exceptions Parallax raises.

Every error names the element, the device and what to do about it. Where the operating system
gave an errno, the error also subclasses the matching built-in ``OSError`` subclass, so
``except FileNotFoundError`` works on a missing device as it would on a missing file.
"""

from __future__ import annotations

import errno as errno_codes
import os


class ParallaxError(Exception):
    """Base class of every error Parallax raises on purpose."""


class PipelineError(ParallaxError):
    """An element failed while the pipeline ran; the element's exception is the ``__cause__``.

    Parameters
    ----------
    element : str
        Name of the element that failed.
    message : str
        What went wrong.
    """

    def __init__(self, element: str, message: str) -> None:
        super().__init__(f"{element}: {message}")
        self.element = element


class LinkError(ParallaxError):
    """Two elements cannot be linked (wrong kind, already linked, not in the pipeline)."""


class NegotiationError(ParallaxError):
    """Two linked elements cannot agree on a format (caps)."""


class TimestampError(ParallaxError):
    """A timestamp is bogus (non-monotonic, missing, far off) under a strict policy."""


class ClockError(ParallaxError):
    """A clock cannot answer (no calibration yet, a domain it cannot map, ...)."""


class DeviceError(ParallaxError, OSError):
    """A capture or playback device is missing, busy, or does not support what was asked.

    Use :func:`device_error` to get the subclass that matches an errno.

    Parameters
    ----------
    device : str
        The device path or name (``/dev/video0``, ``hw:Loopback,1,0``).
    message : str
        What went wrong and what to do: which devices or formats exist instead.
    errno : int or None
        The errno the operating system gave, if any.
    """

    def __init__(self, device: str, message: str, errno: int | None = None) -> None:
        text = f"{device}: {message}"
        if errno is None:
            OSError.__init__(self, text)
        else:
            OSError.__init__(self, errno, text)
        self.device = device

    def __str__(self) -> str:
        # OSError formats "[Errno N] text"; keep that, it tells a user what the kernel said.
        return OSError.__str__(self)


class DeviceNotFoundError(DeviceError, FileNotFoundError):
    """The device does not exist (ENOENT, ENODEV, ENXIO)."""


class DevicePermissionError(DeviceError, PermissionError):
    """The device exists but may not be opened (EACCES, EPERM)."""


class DeviceBusyError(DeviceError, BlockingIOError):
    """Another process or stream holds the device (EBUSY)."""


_ERRNO_CLASSES: dict[int, type[DeviceError]] = {
    errno_codes.ENOENT: DeviceNotFoundError,
    errno_codes.ENODEV: DeviceNotFoundError,
    errno_codes.ENXIO: DeviceNotFoundError,
    errno_codes.EACCES: DevicePermissionError,
    errno_codes.EPERM: DevicePermissionError,
    errno_codes.EBUSY: DeviceBusyError,
}


def device_error(device: str, message: str, errno: int | None = None) -> DeviceError:
    """Return the `DeviceError` subclass that matches ``errno``, with the kernel's reason added.

    Parameters
    ----------
    device : str
        The device path or name.
    message : str
        What went wrong and what to do.
    errno : int or None
        The errno from the failing call, if any.
    """
    cls = _ERRNO_CLASSES.get(errno, DeviceError) if errno is not None else DeviceError
    if errno is not None:
        message = f"{message} ({os.strerror(errno)})"
    return cls(device, message, errno)


class ElementNotFoundError(ParallaxError, LookupError):
    """No element factory of that name."""


class ParseError(ParallaxError, ValueError):
    """A pipeline description (gst-launch syntax) does not parse.

    Attributes
    ----------
    position : int
        0-based character position in the description where the problem is.
    """

    def __init__(self, description: str, position: int, message: str) -> None:
        pointer = " " * position + "^"
        super().__init__(f"{message} (at position {position})\n  {description}\n  {pointer}")
        self.position = position
