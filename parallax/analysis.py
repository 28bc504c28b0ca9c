"""Timing reports: how regular, complete and in sync a stream's timestamps are.

`TimingReport` answers the questions one asks of a recording: how many frames, over what span,
how regular the intervals are, how many frames were dropped, whether any timestamp went
backwards, how far audio starts from video and whether the two drift apart. Reports come from
a numpy array of PTS (`TimingReport.from_pts`), from ``timestampdebug`` elements of a pipeline
that ran (`TimingReport.from_element`), from an MP4 or MPEG-TS file (`TimingReport.from_file`,
demuxed with PyAV) or from a saved ``timestampdebug`` log (`TimingReport.from_log`).

Times in and out are ``int64`` nanoseconds in the stream's own time line (pipeline running
time for a pipeline, the container's time line for a file). Exact integer arithmetic makes
every derived time (the ideal frame grid, residuals, the A/V offset); only statistics (mean,
standard deviation, drift in ppm) are floats.
"""

from __future__ import annotations

import dataclasses
import html
import math
import os
import re
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from parallax.time import INT64_MAX, NONE_NS, SECOND, Int64Array, format_time, scale_array

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from parallax.elements.debug.timestampdebug import TimestampDebug

__all__ = ["StreamTiming", "TimingReport", "estimate_drift_ppm", "parse_time"]


def estimate_drift_ppm(times: Int64Array, offsets: Int64Array) -> float | None:
    """Drift of ``offsets`` over ``times``, parts per million: the least-squares slope x 1e6.

    A positive drift means the offset grows: the second stream runs fast against the first.

    Parameters
    ----------
    times : ndarray of int64
        When each offset was observed, ns (any one time line).
    offsets : ndarray of int64
        The offset at each time, ns.

    Returns
    -------
    float or None
        ppm; None with fewer than 2 distinct times.

    Notes
    -----
    One least-squares slope over the whole series (``numpy.polyfit`` on times relative to the
    first, so float64 keeps ns resolution for about 100 days): the file's overall drift.
    `parallax.avsync.av_sync_report` gives drift and offset over time instead.
    """
    if len(times) < 2 or int(times.max()) == int(times.min()):
        return None
    x = (times - times[0]).astype(np.float64)
    y = (offsets - offsets[0]).astype(np.float64)
    slope = float(np.polyfit(x, y, 1)[0])
    return slope * 1e6


_TIME = re.compile(r"^(-?)(\d+):(\d\d):(\d\d)\.(\d{9})$")


def parse_time(text: str) -> int | None:
    """Parse `parallax.time.format_time` output (``H:MM:SS.nnnnnnnnn``) back to ns.

    ``"none"`` gives None.

    Raises
    ------
    ValueError
        Not a formatted time.
    """
    if text == "none":
        return None
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"not a time like 0:00:01.033333333: {text!r}")
    sign, hours, minutes, seconds, fraction = match.groups()
    ns = ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * SECOND + int(fraction)
    return -ns if sign else ns


def _as_pts(pts: object) -> Int64Array:
    if not isinstance(pts, np.ndarray) or pts.dtype != np.int64 or pts.ndim != 1:
        raise ValueError("pts must be a 1-D numpy int64 array of ns")
    return np.ascontiguousarray(pts)


def _round_ratio(values: Int64Array, num: int, den: int) -> Int64Array:
    """``round(values * den / num)`` half up, exact (the number of nominal steps in each)."""
    bound = (INT64_MAX - num) // (2 * den)
    if len(values) and int(np.abs(values).max()) <= bound:
        return (2 * values * den + num) // (2 * num)
    # Steps of hours between frames: Python integers, slow but exact.
    return np.array([(2 * int(v) * den + num) // (2 * num) for v in values], dtype=np.int64)


def _median(values: Int64Array) -> int:
    """The lower median, an exact int."""
    ordered = np.sort(values)
    return int(ordered[(len(ordered) - 1) // 2])


@dataclasses.dataclass(frozen=True, eq=False)
class StreamTiming:
    """The timing of one stream. Times in ns, integers; statistics floats.

    Attributes
    ----------
    name : str
        ``video``, ``audio``, ``0:video`` (file stream index), an element name...
    kind : str
        ``video``, ``audio`` or ``other``.
    pts : ndarray of int64
        Known PTS in the order analysed (presentation order for files), ns.
    nominal : Fraction
        Nominal ns between buffers (1e9 / fps, samples per packet / rate); exact.
    missing : int
        Buffers without a PTS (not in ``pts``).
    slots : ndarray of int64
        Media position of each PTS in nominal steps from the first (a dropped frame skips one).
    ideal : ndarray of int64
        ``first + floor(slots * nominal)``: where each PTS should be, ns.
    start : int or None
        Declared start of the stream (a container's start time, after edit lists and codec
        priming), ns; else the first PTS.
    declared_duration : int or None
        Duration the container declares for the stream, ns.
    dts_non_monotonic : int or None
        Packets whose DTS did not increase, in file order (files only).
    """

    name: str
    kind: str
    pts: Int64Array
    nominal: Fraction
    missing: int = 0
    start: int | None = None
    declared_duration: int | None = None
    dts_non_monotonic: int | None = None
    steps: Int64Array = dataclasses.field(init=False, repr=False)
    slots: Int64Array = dataclasses.field(init=False, repr=False)
    ideal: Int64Array = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.nominal <= 0:
            raise ValueError(f"{self.name}: nominal interval must be > 0 ns, got {self.nominal}")
        pts = self.pts
        steps = np.diff(pts)
        num, den = self.nominal.numerator, self.nominal.denominator
        # A step of n nominal intervals (rounded) moves n slots: n - 1 frames were dropped.
        # A step that does not increase stays on its slot.
        slot_steps = np.where(steps > 0, np.maximum(_round_ratio(steps, num, den), 1), 0)
        slots = np.concatenate(([0], np.cumsum(slot_steps))).astype(np.int64)
        ideal = scale_array(slots, num, den) + (pts[0] if len(pts) else 0)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "slots", slots)
        object.__setattr__(self, "ideal", ideal)

    # -- counts -------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Buffers or packets, with or without a PTS."""
        return len(self.pts) + self.missing

    @property
    def first(self) -> int | None:
        """First PTS, ns."""
        return int(self.pts[0]) if len(self.pts) else None

    @property
    def last(self) -> int | None:
        """Last PTS, ns."""
        return int(self.pts[-1]) if len(self.pts) else None

    @property
    def span(self) -> int | None:
        """``last - first``, ns."""
        return None if self.first is None or self.last is None else self.last - self.first

    @property
    def duration(self) -> int | None:
        """``span`` plus the last frame's own slot on the ideal grid, ns.

        For 30 frames at 30 fps this is exactly 1 s (the last slot is 33_333_334 ns).
        """
        span = self.span
        if span is None:
            return None
        last = int(self.slots[-1])
        return span + math.floor((last + 1) * self.nominal) - math.floor(last * self.nominal)

    @property
    def intervals(self) -> Int64Array:
        """Steps between consecutive PTS that increased, ns."""
        return self.steps[self.steps > 0]

    @property
    def non_monotonic(self) -> int:
        """Steps that did not increase (duplicates, time going backwards)."""
        return int(np.count_nonzero(self.steps <= 0))

    @property
    def gaps(self) -> int:
        """Steps of 1.5 nominal intervals or more (at least one buffer missing)."""
        return int(np.count_nonzero(np.diff(self.slots) > 1))

    @property
    def dropped(self) -> int:
        """Buffers missing in the gaps (a step of n nominal intervals misses n - 1)."""
        skipped = np.diff(self.slots) - 1
        return int(skipped[skipped > 0].sum())

    @property
    def residual(self) -> Int64Array:
        """``pts - ideal``: jitter and drift against the nominal rate, ns."""
        return self.pts - self.ideal

    # -- statistics ---------------------------------------------------------------------------

    @property
    def interval_min(self) -> int | None:
        """Smallest interval, ns."""
        intervals = self.intervals
        return int(intervals.min()) if len(intervals) else None

    @property
    def interval_max(self) -> int | None:
        """Largest interval, ns."""
        intervals = self.intervals
        return int(intervals.max()) if len(intervals) else None

    @property
    def interval_mean(self) -> float | None:
        """Mean interval, ns (a statistic: float)."""
        intervals = self.intervals
        return int(intervals.sum()) / len(intervals) if len(intervals) else None

    @property
    def interval_std(self) -> float | None:
        """Standard deviation of the intervals, ns (population)."""
        intervals = self.intervals
        return float(np.std(intervals - intervals[0])) if len(intervals) else None

    @property
    def rate_ppm(self) -> float | None:
        """How much faster than nominal the PTS advance, ppm (least-squares over the slots)."""
        if len(self.pts) < 2:
            return None
        return estimate_drift_ppm(self.ideal, self.residual)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (ns as ints, statistics as floats)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "count": self.count,
            "missing_pts": self.missing,
            "first_pts": self.first,
            "last_pts": self.last,
            "start": self.start if self.start is not None else self.first,
            "span": self.span,
            "duration": self.duration,
            "declared_duration": self.declared_duration,
            "nominal_interval": float(self.nominal),
            "interval_mean": self.interval_mean,
            "interval_min": self.interval_min,
            "interval_max": self.interval_max,
            "interval_std": self.interval_std,
            "gaps": self.gaps,
            "dropped": self.dropped,
            "non_monotonic": self.non_monotonic,
            "dts_non_monotonic": self.dts_non_monotonic,
            "rate_ppm": self.rate_ppm,
        }

    def summary(self) -> str:
        """One line for people."""
        mean = self.interval_mean
        std = self.interval_std
        return (
            f"{self.name}: {self.count} buffers, PTS span {format_time(self.span)} "
            f"(duration {format_time(self.duration)}), interval min/mean/max "
            f"{_ms(self.interval_min)} / {_ms(mean)} / {_ms(self.interval_max)} ms "
            f"(std {_ms(std)} ms, nominal {_ms(float(self.nominal))} ms), gaps {self.gaps} "
            f"({self.dropped} dropped), non-monotonic {self.non_monotonic}"
        )


def _ms(ns: float | None) -> str:
    return "none" if ns is None else f"{ns / 1e6:.3f}"


@dataclasses.dataclass(frozen=True, eq=False)
class TimingReport:
    """Timing of one or more streams, and of audio against video when both are there.

    Attributes
    ----------
    streams : tuple of StreamTiming
    source : str
        Where the PTS came from (a file path, element names, ``array``).
    """

    streams: tuple[StreamTiming, ...]
    source: str = "array"

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    def from_pts(
        cls,
        pts: Int64Array,
        nominal: int | Fraction | None = None,
        *,
        name: str = "stream",
        kind: str = "other",
    ) -> TimingReport:
        """Report on one stream of PTS.

        Parameters
        ----------
        pts : ndarray of int64
            PTS in ns (one time line, e.g. running time); `NONE_NS` entries count as missing.
        nominal : int or Fraction or None
            Nominal ns between buffers (``Fraction(SECOND * 1001, 30000)`` for 29.97 fps is
            exact); default the median interval.
        name, kind : str
            Labels (``kind`` ``video`` or ``audio`` pairs streams for the A/V offset).

        Raises
        ------
        ValueError
            ``pts`` is not a 1-D int64 array, or ``nominal <= 0``.
        """
        return cls((_stream(name, kind, _as_pts(pts), nominal),), source="array")

    @classmethod
    def from_element(cls, *elements: TimestampDebug) -> TimingReport:
        """Report on ``timestampdebug`` elements (``keep-pts=true``) after the pipeline ran.

        The kind of each stream comes from its negotiated caps (``video/x-raw`` or
        ``audio/x-raw``); the nominal interval from the video frame rate, the mean audio
        buffer duration, else the median buffer duration.

        Raises
        ------
        ValueError
            An element did not keep its PTS (set ``keep-pts=true``).
        """
        from parallax.caps import AudioFormat, VideoFormat

        streams = []
        for element in elements:
            pts = element.pts_array()
            fmt = element.src_pad.format
            kind = "video" if isinstance(fmt, VideoFormat) else "other"
            nominal: Fraction | None = None
            if isinstance(fmt, VideoFormat) and fmt.fps:
                nominal = SECOND / fmt.fps
            else:
                durations = element.durations_array()
                durations = durations[durations != NONE_NS]
                if isinstance(fmt, AudioFormat) and len(durations):
                    # Exact sample-grid durations alternate by 1 ns (floor): their mean is
                    # the nominal period.
                    kind = "audio"
                    nominal = Fraction(int(durations.sum()), len(durations))
                elif len(durations):
                    nominal = Fraction(_median(durations))
            streams.append(_stream(element.name, kind, pts, nominal))
        return cls(tuple(streams), source=", ".join(e.name for e in elements))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TimingReport:
        """Report on every audio and video stream of a media file (MP4, MPEG-TS, ...).

        Packets are read with PyAV's demuxer (nothing is decoded). Each packet's PTS is
        scaled from the stream's time base to ns exactly (`parallax.time.scale_array`) and the
        PTS are sorted into presentation order (B-frames come in decode order); DTS order is
        checked in file order (``dts_non_monotonic``). The declared start time (after edit
        lists and codec priming) gives the A/V start offset.

        Raises
        ------
        FileNotFoundError
            No such file.
        ValueError
            The file is not a media file PyAV can read, or has no audio or video stream.
        """
        import av

        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file")
        try:
            container = av.open(path)
        except av.FFmpegError as error:
            raise ValueError(f"{path}: not a media file FFmpeg can read ({error})") from None
        with container:
            wanted = [s for s in container.streams if s.type in ("video", "audio")]
            if not wanted:
                raise ValueError(f"{path}: no audio or video stream")
            raw: dict[int, tuple[list[int], list[int], int]] = {
                s.index: ([], [], 0) for s in wanted
            }
            for packet in container.demux(wanted):
                if packet.size == 0:  # the demuxer's end-of-stream marker, not data
                    continue
                pts_list, dts_list, missing = raw[packet.stream.index]
                if packet.pts is None:
                    raw[packet.stream.index] = (pts_list, dts_list, missing + 1)
                else:
                    pts_list.append(packet.pts)
                if packet.dts is not None:
                    dts_list.append(packet.dts)
            streams = [_file_stream(stream, *raw[stream.index]) for stream in wanted]
        return cls(tuple(streams), source=path)

    @classmethod
    def from_log(cls, path: str | os.PathLike[str]) -> TimingReport:
        """Report on a saved ``timestampdebug`` log (``parallax -v launch ... 2> log``).

        Each ``[name] PTS=... Duration=...`` line is one buffer of stream ``name``; a name
        starting with ``video`` or ``audio`` sets the stream's kind.

        Raises
        ------
        ValueError
            The file has no timestampdebug lines.
        """
        line = re.compile(r"\[(?P<name>[^\]]+)\] PTS=(?P<pts>\S+) DTS=\S+ Duration=(?P<dur>\S+)")
        found: dict[str, tuple[list[int], list[int]]] = {}
        with open(path, encoding="utf-8", errors="replace") as log:
            for text in log:
                match = line.search(text)
                if match is None:
                    continue
                pts, duration = parse_time(match["pts"]), parse_time(match["dur"])
                pts_list, durations = found.setdefault(match["name"], ([], []))
                pts_list.append(NONE_NS if pts is None else pts)
                if duration is not None:
                    durations.append(duration)
        if not found:
            raise ValueError(f"{os.fspath(path)}: no timestampdebug lines ([name] PTS=...)")
        streams = []
        for name, (pts_list, durations) in found.items():
            kind = next((k for k in ("video", "audio") if name.startswith(k)), "other")
            nominal = Fraction(_median(np.array(durations, dtype=np.int64))) if durations else None
            streams.append(_stream(name, kind, np.array(pts_list, dtype=np.int64), nominal))
        return cls(tuple(streams), source=os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TimingReport:
        """`from_log` for ``.log`` / ``.txt`` files, else `from_file`."""
        if os.fspath(path).lower().endswith((".log", ".txt")):
            return cls.from_log(path)
        return cls.from_file(path)

    # -- streams ------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[StreamTiming]:
        return iter(self.streams)

    def __len__(self) -> int:
        return len(self.streams)

    def __getitem__(self, key: int | str) -> StreamTiming:
        """A stream by index or by name."""
        if isinstance(key, int):
            return self.streams[key]
        for stream in self.streams:
            if stream.name == key:
                return stream
        raise KeyError(f"no stream {key!r}; streams: {', '.join(s.name for s in self.streams)}")

    @property
    def video(self) -> StreamTiming | None:
        """The first video stream."""
        return next((s for s in self.streams if s.kind == "video"), None)

    @property
    def audio(self) -> StreamTiming | None:
        """The first audio stream."""
        return next((s for s in self.streams if s.kind == "audio"), None)

    # -- audio against video ------------------------------------------------------------------

    @property
    def av_offset(self) -> int | None:
        """Audio start minus video start, ns (positive: audio starts later)."""
        video, audio = self.video, self.audio
        if video is None or audio is None or video.first is None or audio.first is None:
            return None
        return _start(audio) - _start(video)

    def av_offset_series(self) -> tuple[Int64Array, Int64Array] | None:
        """The A/V offset over time: ``(times, offsets)`` at each audio PTS, ns.

        At each audio PTS, the offset is the start offset plus how far audio has moved from
        its nominal grid minus how far video has (its residual at the last video PTS not
        after it): it stays constant when both streams keep their nominal rates.
        """
        video, audio = self.video, self.audio
        start = self.av_offset
        if video is None or audio is None or start is None:
            return None
        audio_residual = audio.residual - audio.residual[0]
        video_residual = video.residual - video.residual[0]
        before = np.searchsorted(video.pts, audio.pts, side="right") - 1
        offsets = start + audio_residual - video_residual[np.clip(before, 0, None)]
        return audio.pts.copy(), offsets.astype(np.int64)

    @property
    def av_drift_ppm(self) -> float | None:
        """How fast audio moves against video, ppm (least-squares slope of the A/V offset)."""
        series = self.av_offset_series()
        return None if series is None else estimate_drift_ppm(*series)

    # -- output -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report.

        Keys: ``source``, ``streams`` (see `StreamTiming.to_dict`), ``av_offset`` (ns) and
        ``av_drift_ppm``.
        """
        return {
            "source": self.source,
            "streams": [stream.to_dict() for stream in self.streams],
            "av_offset": self.av_offset,
            "av_drift_ppm": self.av_drift_ppm,
        }

    def summary(self) -> str:
        """Lines for people."""
        lines = [f"Timing of {self.source}:"]
        lines += [f"  {stream.summary()}" for stream in self.streams]
        offset = self.av_offset
        if offset is not None:
            drift = self.av_drift_ppm
            lines.append(
                f"  A/V start offset {_ms(offset)} ms (audio minus video), drift "
                f"{'none' if drift is None else f'{drift:.1f}'} ppm"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        columns = (
            "stream",
            "count",
            "span (s)",
            "interval mean / min / max (ms)",
            "std (ms)",
            "gaps (dropped)",
            "non-monotonic",
        )
        rows = []
        for s in self.streams:
            cells = (
                f"{s.name} ({s.kind})",
                str(s.count),
                "none" if s.span is None else f"{s.span / SECOND:.6f}",
                f"{_ms(s.interval_mean)} / {_ms(s.interval_min)} / {_ms(s.interval_max)}",
                _ms(s.interval_std),
                f"{s.gaps} ({s.dropped})",
                str(s.non_monotonic),
            )
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        text = f"<p><b>Timing of {html.escape(self.source)}</b></p>"
        text += f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        offset = self.av_offset
        if offset is not None:
            drift = self.av_drift_ppm
            text += (
                f"<p>A/V start offset {_ms(offset)} ms (audio minus video); drift "
                f"{'none' if drift is None else f'{drift:.1f}'} ppm</p>"
            )
        return text

    def plot(self, path: str | os.PathLike[str] | None = None) -> Figure:
        """Draw three panels: interval histogram, PTS residual vs ideal, A/V offset over time.

        Needs matplotlib (``pip install parallax[plot]``). No window opens: the figure is
        returned (Jupyter shows it) and written to ``path`` if given (PNG, SVG, PDF by suffix).

        Raises
        ------
        ImportError
            matplotlib is not installed (the message says how to get it).
        """
        try:
            from matplotlib.figure import Figure
        except ImportError as error:
            raise ImportError("plotting needs matplotlib: pip install 'parallax[plot]'") from error

        figure = Figure(figsize=(9, 9), layout="constrained")
        histogram, residuals, offsets = figure.subplots(3, 1)
        figure.suptitle(f"Timing of {os.path.basename(self.source) or self.source}")

        everything = [s.intervals / 1e6 for s in self.streams if len(s.intervals)]
        if everything:
            # Common bins at least 10 us wide: exact sample-grid intervals differ by 1 ns,
            # which per-stream automatic bins would draw as invisible slivers.
            low = min(float(v.min()) for v in everything)
            high = max(float(v.max()) for v in everything)
            width = max((high - low) / 80, 0.01)
            bins = np.arange(low - width / 2, high + width, width)
            for stream in self.streams:
                if len(stream.intervals):
                    histogram.hist(stream.intervals / 1e6, bins, alpha=0.6, label=stream.name)
        histogram.set_title("Frame intervals")
        histogram.set_xlabel("interval (ms)")
        histogram.set_ylabel("count")

        for stream in self.streams:
            if len(stream.pts):
                seconds = (stream.pts - stream.pts[0]) / SECOND
                residuals.plot(seconds, stream.residual / 1e6, ".", ms=2, label=stream.name)
        residuals.set_title("PTS residual vs ideal (first PTS + slot x nominal interval)")
        residuals.set_xlabel("time since first PTS (s)")
        residuals.set_ylabel("residual (ms)")

        offsets.set_title("A/V offset over time (audio minus video)")
        offsets.set_xlabel("time (s)")
        offsets.set_ylabel("offset (ms)")
        series = self.av_offset_series()
        if series is None:
            offsets.text(0.5, 0.5, "needs one audio and one video stream", ha="center", va="center")
        else:
            times, values = series
            offsets.plot(times / SECOND, values / 1e6, "-")
        for axes in (histogram, residuals):
            if axes.get_legend_handles_labels()[0]:
                axes.legend(loc="best", fontsize="small")
        if path is not None:
            figure.savefig(path)
        return figure


def _stream(
    name: str,
    kind: str,
    pts: Int64Array,
    nominal: int | Fraction | None,
    **extra: Any,
) -> StreamTiming:
    known = pts[pts != NONE_NS]
    missing = len(pts) - len(known)
    if nominal is None:
        steps = np.diff(known)
        steps = steps[steps > 0]
        nominal = _median(steps) if len(steps) else SECOND
    return StreamTiming(name, kind, known, Fraction(nominal), missing, **extra)


def _start(stream: StreamTiming) -> int:
    assert stream.first is not None
    return stream.start if stream.start is not None else stream.first


def _file_stream(stream: Any, pts: Sequence[int], dts: Sequence[int], missing: int) -> StreamTiming:
    """A `StreamTiming` from one PyAV stream's packet PTS/DTS (in its time base)."""
    base = Fraction(stream.time_base)
    num, den = base.numerator * SECOND, base.denominator

    def ns(values: Sequence[int]) -> Int64Array:
        return scale_array(np.array(values, dtype=np.int64), num, den)

    pts_ns = np.sort(ns(pts))
    dts_ns = ns(dts)
    nominal: Fraction | None = None
    if stream.type == "video":
        rate = stream.average_rate or stream.guessed_rate
        if rate:
            nominal = SECOND / Fraction(rate)
    else:
        frame_size = stream.codec_context.frame_size
        if frame_size and stream.codec_context.sample_rate:
            nominal = Fraction(frame_size * SECOND, stream.codec_context.sample_rate)
    start = None if stream.start_time is None else int(ns([stream.start_time])[0])
    declared = None if stream.duration is None else int(ns([stream.duration])[0])
    everything = np.concatenate((pts_ns, np.full(missing, NONE_NS, dtype=np.int64)))
    return _stream(
        f"{stream.index}:{stream.type}",
        stream.type,
        everything,
        nominal,
        start=start,
        declared_duration=declared,
        dts_non_monotonic=int(np.count_nonzero(np.diff(dts_ns) <= 0)),
    )
