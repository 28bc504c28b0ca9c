"""pipewiresrc: capture video or audio from a PipeWire node, stamped with PipeWire's own time."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from parallax._ext import pipewire as pw
from parallax.buffer import Buffer, BufferFlags, Metadata
from parallax.caps import (
    AUDIO_RAW,
    PIXEL_FORMATS,
    VIDEO_RAW,
    AudioFormat,
    Caps,
    Format,
    Structure,
    VideoFormat,
)
from parallax.errors import DeviceError, NegotiationError, TimestampError, device_error
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Pad, Property, Source
from parallax.time import MSECOND, SECOND, CaptureTime, ClockDomain, sample_time, scale

ANY_ID = 0xFFFFFFFF
"""``PW_ID_ANY``: no target node id."""

# How long one wait for a buffer lasts before the streaming thread looks at the pipeline
# state again (teardown also cancels the wait at once).
_POLL_NS = 100 * MSECOND

_SPA_VIDEO = {spa: name for name, spa in pw.VIDEO_FORMATS.items()}
_SPA_AUDIO = {spa: name for name, spa in pw.AUDIO_FORMATS.items()}

ToRunningTime = Callable[[CaptureTime], int]


class PipeWireSrc(Source):
    """Capture raw video or audio from a PipeWire node (a camera, a screen cast, a sink monitor).

    Time. Video PTS come from each buffer's ``spa_meta_header.pts`` (CLOCK_MONOTONIC ns, when
    the producer captured the frame), mapped once to running time with
    ``context.to_running_time``; the raw value stays in ``meta.capture``. A jump in the header
    ``seq`` (frames lost upstream) or a buffer dropped here (``max-buffers`` full) flags the
    next buffer DISCONT and counts in ``lost`` / ``dropped``. Audio buffers carry no header
    (PipeWire 0.3.65): the capture time of a buffer's first sample is ``pw_time.now -
    pw_time.delay`` (CLOCK_MONOTONIC); the first buffer anchors the stream and later PTS are
    ``anchor + floor(samples * 1e9 / rate)``, so buffers tile exactly. A graph cycle the stream
    missed (``pw_time.ticks`` jumped) advances the sample count by the samples lost (DISCONT,
    counted in ``lost``); the anchor moves (DISCONT) after a buffer dropped here or when
    PipeWire's time and the sample count part by more than ``alignment-threshold``.

    ``timestamp-policy``: ``auto`` uses PipeWire's time and falls back to the arrival time (the
    CLOCK_MONOTONIC time the buffer reached the process callback) with a warning when a
    producer gives none; ``device`` requires PipeWire's time (else `TimestampError`, also for
    non-increasing video PTS); ``arrival`` always uses the arrival time.

    ``target`` is a node id, ``object.serial`` or ``node.name``; it is looked up in the
    registry, so a wrong one fails at once (PipeWire itself would silently link the default
    source). Capturing an ``Audio/Sink`` node records its monitor.
    Example: ``pipewiresrc target=parallax-videotestsrc ! video/x-raw,framerate=25/1 !
    timestampdebug ! fakesink``.
    """

    factory_name = "pipewiresrc"
    description = "Video or audio from a PipeWire node, with PipeWire's timestamps"
    target = Property(str, "", "node id, object.serial or node.name (empty: the default source)")
    remote = Property(str, "", "daemon socket name or absolute path (empty: PIPEWIRE_REMOTE)")
    fd = Property(int, -1, "connected PipeWire socket, e.g. from the ScreenCast portal (-1: none)")
    autoconnect = Property(bool, True, "let the session manager link the stream to the target")
    timestamp_policy = Property(
        str, "auto", "where PTS come from", choices=("auto", "device", "arrival")
    )
    max_buffers = Property(
        int, 8, "buffers held between PipeWire and the streaming thread", minimum=1, maximum=64
    )
    alignment_threshold = Property(
        int, 40 * MSECOND, "ns audio PTS may drift from PipeWire's time, then re-anchor", minimum=0
    )
    buffer_samples = Property(int, 1024, "audio samples per buffer asked of PipeWire", minimum=1)
    timeout = Property(int, 5 * SECOND, "ns to wait for the daemon and the format", minimum=1)

    is_live = True

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self._capture: pw.Capture | None = None
        self._node: tuple[int, int, str, str, str] | None = None
        self.format: VideoFormat | AudioFormat | None = None
        self._stamper: _VideoStamper | _AudioStamper | None = None
        self.lost = 0
        """Lost upstream: video frames (header ``seq`` gaps), audio samples (``ticks`` gaps)."""
        self.short_buffers = 0
        """Video buffers with less data than a frame (dropped)."""

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def device(self) -> str:
        """The target as shown in messages: ``pipewire:<target>`` (with the remote if set)."""
        where = f"@{self.remote}" if self.remote else ""
        via = f" (fd {self.fd})" if self.fd >= 0 else ""
        return f"pipewire:{self.target or 'default'}{where}{via}"

    def open(self) -> None:
        """Connect to the daemon and find the target node.

        Raises
        ------
        DeviceError
            No daemon (the socket's errno), no answer within ``timeout``, or no such node (the
            message lists the nodes there are).
        """
        try:
            fd = os.dup(self.fd) if self.fd >= 0 else -1  # the connection owns what it gets
            self._capture = pw.Capture(self.remote or None, fd, self.timeout)
        except TimeoutError as error:
            raise device_error(
                self.device, f"{self.name}: {error}; is the daemon stuck?", errno.ETIMEDOUT
            ) from None
        except OSError as error:
            raise device_error(
                self.device,
                f"{self.name}: cannot connect to PipeWire: is a daemon running for this user "
                "(XDG_RUNTIME_DIR, PIPEWIRE_REMOTE) or is `remote` right?",
                error.errno,
            ) from None
        self._node = self._find_target(self._capture.nodes()) if self.target else None

    def _find_target(
        self, nodes: list[tuple[int, int, str, str, str]]
    ) -> tuple[int, int, str, str, str]:
        target = self.target
        for key in (0, 1, 2):  # id, then serial, then name
            for node in nodes:
                if str(node[key]) == target:
                    return node
        listing = ", ".join(f"{n[0]} {n[2]} ({n[3] or 'no class'})" for n in nodes) or "none"
        raise device_error(
            self.device,
            f"{self.name}: no PipeWire node with id, object.serial or node.name {target!r}; "
            f"nodes: {listing}",
            errno.ENOENT,
        )

    def close(self) -> None:
        """Disconnect (stops PipeWire's thread)."""
        if self._capture is not None:
            self._capture.close()
            self._capture = None

    def unblock(self) -> None:
        """Wake a waiting `produce`."""
        if self._capture is not None:
            self._capture.cancel()

    # -- negotiation ----------------------------------------------------------------------

    def _media(self) -> str | None:
        if self._node is None:
            return None
        media_class = self._node[3]
        if media_class.startswith("Video/"):
            return VIDEO_RAW
        if media_class.startswith("Audio/"):
            return AUDIO_RAW
        return None

    def src_caps(self, pad: Pad) -> Caps:
        """Packed raw video or interleaved raw audio, as the target node's class says."""
        video = Structure(VIDEO_RAW, {"format": tuple(pw.VIDEO_FORMATS)})
        audio = Structure(AUDIO_RAW, {"format": tuple(pw.AUDIO_FORMATS)})
        media = self._media()
        if media == VIDEO_RAW:
            return Caps([video])
        if media == AUDIO_RAW:
            return Caps([audio])
        return Caps([video, audio])

    def fixate_format(self, allowed: Caps) -> Format:
        """Offer ``allowed`` to PipeWire and return the format the node chose.

        Raises
        ------
        NegotiationError
            PipeWire fixed no format within ``timeout``.
        DeviceError
            The connection failed or the target went away meanwhile.
        """
        assert self._capture is not None
        structure = allowed.first()
        target_id = ANY_ID
        properties = {"media.category": "Capture", "node.name": self.name}
        if self._node is not None:
            properties["target.object"] = str(self._node[1])  # the serial: what policy matches
        try:
            if structure.media == VIDEO_RAW:
                properties.update({"media.type": "Video", "media.role": "Camera"})
                self._capture.connect_video(
                    target_id,
                    properties,
                    [pw.VIDEO_FORMATS[f] for f in _choices(structure, "format")],
                    _sizes(structure),
                    _fractions(structure.get("framerate")),
                    self.max_buffers,
                    self.autoconnect,
                )
            else:
                properties.update({"media.type": "Audio", "media.role": "Production"})
                if self._node is not None and self._node[3] == "Audio/Sink":
                    properties["stream.capture.sink"] = "true"
                rates = _ints(structure.get("rate"))
                properties["node.latency"] = f"{self.buffer_samples}/{(rates or [48000])[0]}"
                self._capture.connect_audio(
                    target_id,
                    properties,
                    [pw.AUDIO_FORMATS[f] for f in _choices(structure, "format")],
                    rates,
                    _ints(structure.get("channels")),
                    self.max_buffers,
                    self.autoconnect,
                )
            chosen = self._capture.wait_format(self.timeout)
        except OSError as error:
            raise self._lost(error) from None
        if chosen is None:
            raise NegotiationError(
                f"{self.name}: PipeWire fixed no format within {self.timeout / SECOND:g} s for "
                f"{self.device} (offered {structure}); does the node offer any of it?"
            )
        media, spa_format, a, b, c, d = chosen
        if media == pw.MEDIA_VIDEO:
            return VideoFormat(a, b, _SPA_VIDEO[spa_format], Fraction(c, d or 1))
        return AudioFormat(a, b, _SPA_AUDIO[spa_format])

    def set_format(self, fmt: Format) -> None:
        """Remember the negotiated format."""
        assert isinstance(fmt, VideoFormat | AudioFormat)
        self.format = fmt

    @property
    def latency(self) -> int:
        """One frame (40 ms when the rate is variable) or one audio buffer, ns (rounded up)."""
        if isinstance(self.format, AudioFormat):
            return -(-self.buffer_samples * SECOND // self.format.rate)
        if isinstance(self.format, VideoFormat) and self.format.fps > 0:
            return -(-SECOND * self.format.fps.denominator // self.format.fps.numerator)
        return 40 * MSECOND

    # -- streaming ------------------------------------------------------------------------

    def start(self, context: ProduceContext) -> None:
        """Start taking buffers; time starts afresh."""
        assert self._capture is not None and self.format is not None
        self.lost = 0
        self.short_buffers = 0
        if isinstance(self.format, VideoFormat):
            self._stamper = _VideoStamper(self.format, self.timestamp_policy)
        else:
            self._stamper = _AudioStamper(
                self.format, self.timestamp_policy, self.alignment_threshold
            )
        self._capture.start()

    @property
    def dropped(self) -> int:
        """Buffers dropped here because the streaming thread was ``max-buffers`` behind."""
        return self._capture.stats[1] if self._capture is not None else 0

    def produce(self, context: ProduceContext) -> Buffer | None:
        """The next buffer from PipeWire (waits for it; None at teardown or EOS request)."""
        capture, stamper = self._capture, self._stamper
        assert capture is not None and stamper is not None
        while not context.stopping and not self.eos_requested:
            try:
                frame = capture.take(_POLL_NS)
            except OSError as error:
                raise self._lost(error) from None
            if frame is None:
                continue
            if isinstance(stamper, _VideoStamper):
                data = self._video_data(frame)
                if data is None:
                    continue
            else:
                whole = frame.data.size - frame.data.size % stamper.frame_bytes
                data = frame.data[:whole].view(stamper.dtype).reshape(-1, stamper.channels)
            meta = stamper.stamp(frame, context.to_running_time, self)
            return Buffer(data, meta)
        return None

    def _video_data(self, frame: pw.Frame) -> np.ndarray[Any, Any] | None:
        fmt = self.format
        assert isinstance(fmt, VideoFormat)
        pixel = PIXEL_FORMATS[fmt.pixel_format]
        assert pixel is not None  # only packed formats are offered
        row = fmt.width * pixel
        stride = frame.stride if frame.stride >= row else row
        if frame.data.size < stride * (fmt.height - 1) + row:
            self.short_buffers += 1
            if self.short_buffers == 1:
                self.post_warning(
                    f"{self.name}: dropping buffers with less than a frame of data "
                    f"({frame.data.size} bytes for {fmt})"
                )
            return None
        # Rows `stride` bytes apart: a view, no copy (the padding stays in memory).
        if frame.data.size >= stride * fmt.height:
            rows = frame.data[: stride * fmt.height].reshape(fmt.height, stride)
            image = rows[:, :row].reshape(fmt.height, fmt.width, pixel)
        else:  # the last row comes without its padding (slower, but still a view)
            image = np.lib.stride_tricks.as_strided(
                frame.data, (fmt.height, fmt.width, pixel), (stride, pixel, 1), writeable=False
            )
        return image[:, :, 0] if pixel == 1 else image

    def _lost(self, error: OSError) -> DeviceError:
        code = error.errno or errno.EPIPE
        what = "the target node went away" if code == errno.ENOENT else "the connection failed"
        return device_error(
            self.device,
            f"{self.name}: {what}: {error.strerror or error}; did the PipeWire daemon stop?",
            code,
        )


def _choices(structure: Structure, name: str) -> list[Any]:
    value = structure.get(name)
    return list(value) if isinstance(value, tuple) else [value]


def _ints(value: object) -> list[int] | None:
    if value is None:
        return None
    return [int(v) for v in value] if isinstance(value, tuple) else [int(value)]  # type: ignore[call-overload]


def _fractions(value: object) -> list[tuple[int, int]] | None:
    if value is None:
        return None
    values = value if isinstance(value, tuple) else (value,)
    return [(Fraction(v).numerator, Fraction(v).denominator) for v in values]


def _sizes(structure: Structure) -> list[tuple[int, int]] | None:
    widths, heights = _ints(structure.get("width")), _ints(structure.get("height"))
    if widths is None or heights is None:
        return None  # any size (a partial constraint is checked by the caps on the link)
    return [(w, h) for w in widths for h in heights]


class _VideoStamper:
    """Video PTS from the header pts (or the arrival time), seq gaps as DISCONT."""

    def __init__(self, fmt: VideoFormat, policy: str) -> None:
        self.duration = fmt.frame_duration
        self.policy = policy
        self.last_seq: int | None = None
        self.first_seq = 0
        self.last_raw: int | None = None
        self.warned = False

    def stamp(self, frame: Any, to_running_time: ToRunningTime, element: PipeWireSrc) -> Metadata:
        """Metadata of one frame (``frame``: a `pw.Frame` or anything with its fields)."""
        flags = BufferFlags.NONE
        has_header = frame.has_header
        if self.policy == "arrival" or not has_header:
            if self.policy == "device":
                raise TimestampError(
                    f"{element.name}: {element.device} sends buffers without a spa_meta_header "
                    "(no capture time); use timestamp-policy=auto or arrival"
                )
            if not self.warned and self.policy == "auto":
                self.warned = True
                element.post_warning(
                    f"{element.name}: buffers carry no spa_meta_header; stamping with the "
                    "arrival time"
                )
            raw = frame.process_ns
        else:
            raw = frame.pts
            if self.policy == "device" and self.last_raw is not None and raw <= self.last_raw:
                raise TimestampError(
                    f"{element.name}: header pts went from {self.last_raw} to {raw} ns "
                    f"(not increasing) on {element.device}"
                )
        if has_header:
            seq = frame.seq
            if self.last_seq is None:
                self.first_seq = seq
            elif seq != self.last_seq + 1:
                flags |= BufferFlags.DISCONT
                element.lost += max(0, seq - self.last_seq - 1)
            self.last_seq = seq
            if frame.header_flags & pw.HEADER_FLAG_DISCONT:
                flags |= BufferFlags.DISCONT
            if frame.header_flags & pw.HEADER_FLAG_CORRUPTED:
                flags |= BufferFlags.CORRUPTED
        if frame.dropped:
            flags |= BufferFlags.DISCONT
        if frame.chunk_flags & pw.CHUNK_FLAG_CORRUPTED:
            flags |= BufferFlags.CORRUPTED
        self.last_raw = raw
        capture = CaptureTime(ClockDomain.MONOTONIC, raw)
        offset = frame.seq - self.first_seq if has_header else None
        return Metadata(
            pts=to_running_time(capture),
            duration=self.duration,
            offset=offset,
            offset_end=None if offset is None else offset + 1,
            sequence=frame.seq if has_header else None,
            flags=flags,
            capture=capture,
        )


class _AudioStamper:
    """Audio PTS tiled from sample counts, anchored on PipeWire's time of the first sample.

    A graph cycle the stream missed (an xrun: ``pw_time.ticks`` moved further than the samples
    received) advances the sample position by the samples lost, so the PTS after the gap are
    still exact sample times on the same anchor; the buffer after the gap is DISCONT.
    """

    def __init__(self, fmt: AudioFormat, policy: str, threshold: int) -> None:
        self.rate = fmt.rate
        self.channels = fmt.channels
        self.dtype = np.dtype(fmt.dtype)
        self.frame_bytes = self.dtype.itemsize * fmt.channels
        self.policy = policy
        self.threshold = threshold
        self.anchor: int | None = None  # running time of sample `anchor_position`
        self.anchor_position = 0
        self.position = 0  # samples since start, lost ones included
        self.last_ticks: int | None = None  # pw_time.ticks of the previous buffer
        self.last_samples = 0
        self.warned = False

    def capture_time(self, frame: Any, element: PipeWireSrc) -> int:
        """CLOCK_MONOTONIC ns of the buffer's first sample: ``now - delay`` (or arrival)."""
        if self.policy != "arrival" and frame.now != 0 and frame.rate_denom != 0:
            delay = scale(frame.delay * frame.rate_num, SECOND, frame.rate_denom)
            return int(frame.now) - delay
        if self.policy == "device":
            raise TimestampError(
                f"{element.name}: PipeWire reports no time (pw_time.now = 0) for "
                f"{element.device}; use timestamp-policy=auto or arrival"
            )
        if not self.warned and self.policy == "auto":
            self.warned = True
            element.post_warning(f"{element.name}: no pw_time yet; stamping with arrival time")
        return int(frame.process_ns)

    def lost_samples(self, frame: Any) -> int:
        """Samples (at our rate) the graph moved past without giving them to us."""
        ticks, last = frame.ticks, self.last_ticks
        self.last_ticks = ticks if frame.now != 0 and frame.rate_denom != 0 else None
        if last is None or self.last_ticks is None or frame.rate_num == 0:
            return 0
        # ticks count graph samples (1/rate_denom s each when rate_num is 1): convert ours.
        graph_rate = Fraction(frame.rate_denom, frame.rate_num)
        expected = self.last_samples * graph_rate / self.rate
        missing = ticks - last - expected
        if missing <= graph_rate / self.rate + 1:  # resampled sizes vary by a sample
            return 0
        return int(missing * self.rate / graph_rate)

    def stamp(self, frame: Any, to_running_time: ToRunningTime, element: PipeWireSrc) -> Metadata:
        """Metadata of one buffer (``frame``: a `pw.Frame` or anything with its fields)."""
        samples = frame.data.size // self.frame_bytes
        capture = CaptureTime(ClockDomain.MONOTONIC, self.capture_time(frame, element))
        observed = to_running_time(capture)
        flags = BufferFlags.NONE
        lost = self.lost_samples(frame) if self.policy != "arrival" else 0
        self.last_samples = samples
        if lost:
            self.position += lost
            element.lost += lost
            flags |= BufferFlags.DISCONT
        start = self.position
        if self.anchor is not None:
            expected = sample_time(start - self.anchor_position, self.rate, self.anchor)
            if (frame.dropped and not lost) or abs(observed - expected) > self.threshold:
                self.anchor = None
                flags |= BufferFlags.DISCONT
        if self.anchor is None:
            self.anchor, self.anchor_position = observed, start
        pts = sample_time(start - self.anchor_position, self.rate, self.anchor)
        end = sample_time(start + samples - self.anchor_position, self.rate, self.anchor)
        self.position = start + samples
        return Metadata(
            pts=pts,
            duration=end - pts,
            offset=start,
            offset_end=start + samples,
            flags=flags,
            capture=capture,
        )
