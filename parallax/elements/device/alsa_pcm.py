"""`AlsaPcm`: one ALSA PCM stream for alsasrc and alsasink (pyalsaaudio + a status helper).

The PCM is opened non-blocking: every wait is a ``poll()`` with a timeout that another
thread can cut short (`AlsaPcm.wake`), so nothing hangs on a stalled or vanished card. All
calls on the pyalsaaudio object hold one lock, so closing it from another thread (teardown,
an unplug test) cannot free the handle under a running call.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import threading
import time
from typing import Any

import alsaaudio

from parallax._ext.alsa import PcmStatus, channel_bounds, check_pcm
from parallax.caps import AudioFormat
from parallax.clock.alsa import DevicePosition
from parallax.errors import DeviceError, device_error
from parallax.time import SECOND, sample_time

FORMATS = {
    "S16LE": alsaaudio.PCM_FORMAT_S16_LE,
    "S32LE": alsaaudio.PCM_FORMAT_S32_LE,
    "F32LE": alsaaudio.PCM_FORMAT_FLOAT_LE,
}
"""Parallax sample formats -> ALSA formats."""

_ALSA_FORMAT_NAMES = {
    getattr(alsaaudio, name): name.removeprefix("PCM_FORMAT_")
    for name in dir(alsaaudio)
    if name.startswith("PCM_FORMAT_")
}
_ERRNO_BY_TEXT = {os.strerror(code): code for code in errno.errorcode}

STATE_RUNNING = alsaaudio.PCM_STATE_RUNNING

TIMEOUT_NS = 2 * SECOND
"""How long a running stream may give nothing before the card counts as gone."""


def _alsa_errno(error: alsaaudio.ALSAAudioError) -> int | None:
    """The errno behind a pyalsaaudio error ("Device or resource busy [hw:0]")."""
    text = str(error).rsplit(" [", 1)[0]
    return _ERRNO_BY_TEXT.get(text)


def list_devices(capture: bool) -> str:
    """The cards and PCM names ALSA knows, for error messages."""
    kind = alsaaudio.PCM_CAPTURE if capture else alsaaudio.PCM_PLAYBACK
    try:
        cards = alsaaudio.cards()
        pcms = [name for name in alsaaudio.pcms(kind) if name.startswith(("hw:", "default"))]
    except alsaaudio.ALSAAudioError:
        return "ALSA lists no devices"
    hw = [f"hw:{card},DEV,SUB" for card in cards]
    return f"cards: {', '.join(cards) or 'none'} (use {', '.join(hw) or 'hw:CARD'}); " + (
        f"PCMs: {', '.join(pcms)}" if pcms else "no hw PCMs listed"
    )


def describe_capabilities(pcm: Any) -> str:
    """What an open PCM's device supports: formats, rates, channels."""
    offered = pcm.getformats()
    ours = [name for name, code in FORMATS.items() if _ALSA_FORMAT_NAMES[code] in offered]
    low, high = pcm.getratebounds()
    try:
        channels = "{}-{}".format(*channel_bounds(pcm))
    except OSError:
        channels = "unknown"
    return (
        f"it supports formats {', '.join(ours) or 'none of S16LE, S32LE, F32LE'} "
        f"(ALSA: {', '.join(offered) or '-'}), rates {low}-{high} Hz, channels {channels}"
    )


class AlsaPcm:
    """An open, configured, non-blocking ALSA PCM with MONOTONIC timestamps.

    Parameters
    ----------
    element : str
        The element's name, for error messages.
    device : str
        ALSA device name (``hw:Loopback,1,0``, ``default``).
    capture : bool
        Capture (True) or playback.
    fmt : AudioFormat
        Rate, channels and sample format; the card must take them exactly.
    period_size : int
        Frames per period (the card may round it).
    periods : int
        Periods in the ring buffer.

    Raises
    ------
    DeviceError
        No such device (the message lists the cards), busy, or it does not take ``fmt``
        (the message lists what it supports).
    """

    def __init__(
        self,
        element: str,
        device: str,
        *,
        capture: bool,
        fmt: AudioFormat,
        period_size: int,
        periods: int,
    ) -> None:
        self.element = element
        self.device = device
        self.capture = capture
        self.format = fmt
        kind = alsaaudio.PCM_CAPTURE if capture else alsaaudio.PCM_PLAYBACK
        what = "capture" if capture else "playback"
        try:
            pcm = alsaaudio.PCM(
                kind,
                alsaaudio.PCM_NONBLOCK,
                device=device,
                rate=fmt.rate,
                channels=fmt.channels,
                format=FORMATS[fmt.sample_format],
                periodsize=period_size,
                periods=periods,
            )
        except alsaaudio.ALSAAudioError as error:
            code = _alsa_errno(error)
            if code == errno.EBUSY:
                hint = "another stream holds it: stop it or use another subdevice"
            elif code == errno.EINVAL:
                hint = f"it does not take {fmt}: {self._probe_capabilities(kind)}"
            else:
                hint = list_devices(capture)
            raise device_error(
                device, f"{element}: cannot open for {what}: {error}; {hint}", code
            ) from None
        info = pcm.info()
        got = AudioFormat(info["rate"], info["channels"], self._format_name(info["format_name"]))
        if got != fmt:
            capabilities = describe_capabilities(pcm)
            pcm.close()
            raise device_error(
                device,
                f"{element}: {what} does not support {fmt} (the card offered {got}); "
                f"{capabilities}",
                errno.EINVAL,
            )
        pcm.set_tstamp_mode(alsaaudio.PCM_TSTAMP_ENABLE)
        # Explicit: the default timestamp clock differs between kernels and plugins.
        pcm.set_tstamp_type(alsaaudio.PCM_TSTAMP_TYPE_MONOTONIC)
        self.period_size: int = info["period_size"]
        self.buffer_size: int = info.get("buffer_size", period_size * periods)
        check_pcm(pcm, fmt.rate, fmt.channels, self.period_size)
        self._pcm: Any = pcm
        self._status = PcmStatus(pcm)
        self._lock = threading.Lock()
        self._fds = [fd for fd, _mask in pcm.polldescriptors()]
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.transferred = 0
        """Frames read or written since the stream was (re)prepared."""

    @staticmethod
    def _format_name(alsa_name: str) -> str:
        for name, code in FORMATS.items():
            if _ALSA_FORMAT_NAMES[code] == alsa_name:
                return name
        return alsa_name

    def _probe_capabilities(self, kind: int) -> str:
        try:
            probe = alsaaudio.PCM(kind, alsaaudio.PCM_NONBLOCK, device=self.device)
        except alsaaudio.ALSAAudioError:
            return "its capabilities could not be read"
        try:
            return describe_capabilities(probe)
        finally:
            probe.close()

    def _closed(self) -> DeviceError:
        return device_error(
            self.device,
            f"{self.element}: the PCM was closed or the card went away (unplugged?)",
            errno.ENODEV,
        )

    @property
    def is_open(self) -> bool:
        """False once closed (by any thread)."""
        return self._pcm is not None

    def read(self) -> tuple[int, bytes, tuple[int, int, int, int, int] | None, int]:
        """Read up to one period without blocking.

        Returns
        -------
        frames : int
            Frames read; 0 when none were ready; ``-errno.EPIPE`` on an overrun (the stream
            is prepared again and restarts at the next read).
        data : bytes
        status : tuple or None
            `PcmStatus.read` right after a successful read: ``(state, htstamp_ns,
            trigger_ns, avail, delay)``.
        monotonic_ns : int
            CLOCK_MONOTONIC right after the status.

        Raises
        ------
        DeviceError
            The PCM is closed or failed.
        """
        with self._lock:
            pcm = self._pcm
            if pcm is None:
                raise self._closed()
            try:
                frames, data = pcm.read()
                status = self._status.read() if frames > 0 else None
            except (alsaaudio.ALSAAudioError, OSError) as error:
                raise self._failed("read", error) from error
            if frames > 0:
                self.transferred += frames
            elif frames == -errno.EPIPE:
                self.transferred = 0
            return frames, data, status, time.monotonic_ns()

    def write(self, data: Any) -> int:
        """Write frames without blocking; return frames written (0: full), or
        ``-errno.EPIPE`` after an underrun (prepared again; the next write restarts).
        """
        with self._lock:
            pcm = self._pcm
            if pcm is None:
                raise self._closed()
            try:
                frames: int = pcm.write(data)
            except alsaaudio.ALSAAudioError as error:
                raise self._failed("write", error) from error
            if frames > 0:
                self.transferred += frames
            elif frames == -errno.EPIPE:
                self.transferred = 0
            return frames

    def _failed(self, what: str, error: Exception) -> DeviceError:
        code = error.errno if isinstance(error, OSError) else _alsa_errno(error)
        return device_error(self.device, f"{self.element}: {what} failed: {error}", code)

    def status(self) -> tuple[int, int, int, int, int] | None:
        """``(state, htstamp_ns, trigger_ns, avail, delay)`` now; None once closed."""
        with self._lock:
            if self._pcm is None:
                return None
            try:
                return self._status.read()
            except OSError:
                return None

    def position(self) -> DevicePosition | None:
        """The running stream's position for `AlsaClock`; None when it does not run."""
        with self._lock:
            if self._pcm is None:
                return None
            try:
                state, tstamp, trigger, avail, delay = self._status.read()
            except OSError:
                return None
            if state != STATE_RUNNING:
                return None
            frames = self.transferred + avail if self.capture else self.transferred - delay
            return DevicePosition(tstamp, trigger, frames)

    def running(self) -> bool:
        """True while the stream runs (started and no xrun)."""
        status = self.status()
        return status is not None and status[0] == STATE_RUNNING

    def delay_ns(self) -> int:
        """ns until a frame written now is heard (playback), 0 when not running."""
        status = self.status()
        if status is None or status[0] != STATE_RUNNING:
            return 0
        return sample_time(max(status[4], 0), self.format.rate)

    def wait(self, timeout_ns: int = TIMEOUT_NS) -> bool:
        """Block until the PCM can be read (capture) or written (playback), or `wake`.

        Returns
        -------
        bool
            True when the PCM is ready (or reports an xrun: the next read or write says
            so), False when woken.

        Raises
        ------
        DeviceError
            Nothing happened for ``timeout_ns`` (the card stopped), or the PCM was closed.
        """
        poller = select.poll()
        event = select.POLLIN if self.capture else select.POLLOUT
        for fd in self._fds:
            poller.register(fd, event | select.POLLERR)
        poller.register(self._wake, select.POLLIN)
        ready = poller.poll(-(-timeout_ns // 1_000_000))
        if not ready:
            raise device_error(
                self.device,
                f"{self.element}: no {'capture' if self.capture else 'playback'} progress for "
                f"{timeout_ns // 1_000_000} ms: the card stopped (unplugged?)",
                errno.ETIMEDOUT,
            )
        woken = False
        for fd, revents in ready:
            if fd == self._wake:
                woken = True
                with contextlib.suppress(BlockingIOError):
                    os.eventfd_read(self._wake)
            elif revents & select.POLLNVAL or self._pcm is None:
                raise self._closed()
        return not woken

    def wake(self) -> None:
        """Make a `wait` in another thread return False (teardown)."""
        os.eventfd_write(self._wake, 1)

    def __del__(self) -> None:
        # The wake fd outlives close(): a wait in another thread may still poll it.
        wake = getattr(self, "_wake", None)
        if wake is not None:
            os.close(wake)

    def drop(self) -> None:
        """Stop the stream now, discarding what is queued."""
        with self._lock:
            if self._pcm is not None:
                with contextlib.suppress(alsaaudio.ALSAAudioError):
                    self._pcm.drop()
                self.transferred = 0

    def close(self) -> None:
        """Close the PCM (any thread; idempotent). A `wait` in progress fails soon after."""
        with self._lock:
            pcm, self._pcm = self._pcm, None
            if pcm is not None:
                with contextlib.suppress(alsaaudio.ALSAAudioError):
                    pcm.drop()
                pcm.close()
        self.wake()
