"""timestampdebug: logs every buffer's times and keeps interval statistics."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from parallax.buffer import Buffer
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Property, Transform
from parallax.time import NONE_NS, Int64Array, format_time

log = logging.getLogger("parallax.timestampdebug")


@dataclasses.dataclass
class TimestampStats:
    """What a `TimestampDebug` saw (times in ns, running time).

    Attributes
    ----------
    buffers : int
    first_pts, last_pts : int or None
    min_interval, max_interval : int or None
        Smallest and largest step between consecutive known PTS.
    interval_sum : int
        Sum of the steps (the mean is ``interval_sum / intervals``).
    intervals : int
    gaps : int
        Steps larger than 1.5x the previous buffer's duration (dropped buffers).
    non_monotonic : int
        Steps that did not increase.
    missing_pts : int
        Buffers without a PTS.
    """

    buffers: int = 0
    first_pts: int | None = None
    last_pts: int | None = None
    min_interval: int | None = None
    max_interval: int | None = None
    interval_sum: int = 0
    intervals: int = 0
    gaps: int = 0
    non_monotonic: int = 0
    missing_pts: int = 0

    @property
    def mean_interval(self) -> float | None:
        """Mean step between consecutive PTS, ns (a float: it is a statistic, not a time)."""
        return self.interval_sum / self.intervals if self.intervals else None

    @property
    def span(self) -> int | None:
        """last_pts - first_pts, ns."""
        if self.first_pts is None or self.last_pts is None:
            return None
        return self.last_pts - self.first_pts

    def summary(self) -> str:
        """One line for people."""
        mean = self.mean_interval
        return (
            f"{self.buffers} buffers, PTS {format_time(self.first_pts)} .. "
            f"{format_time(self.last_pts)}, interval min/mean/max "
            f"{format_time(self.min_interval)} / "
            f"{'none' if mean is None else format_time(round(mean))} / "
            f"{format_time(self.max_interval)}, gaps {self.gaps}, "
            f"non-monotonic {self.non_monotonic}, missing PTS {self.missing_pts}"
        )


class TimestampDebug(Transform):
    """Pass buffers through, log ``[name] PTS=... DTS=... Duration=... Seq=...`` at DEBUG, and
    count intervals, gaps and non-monotonic steps in ``stats``.

    With ``keep-pts=true`` it also keeps every buffer's PTS and duration (two list appends
    per buffer) for `pts_array` / `durations_array` and ``TimingReport.from_element``.

    Example: ``parallax launch "videotestsrc is-live=true num-buffers=90 ! timestampdebug !
    fakesink"`` prints the statistics at the end.
    """

    factory_name = "timestampdebug"
    description = "Log buffer times and keep interval statistics"
    silent = Property(bool, False, "do not log each buffer (statistics are kept anyway)")
    keep_pts = Property(bool, False, "keep every PTS and duration for parallax.analysis")

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self.stats = TimestampStats()
        self._last_duration: int | None = None
        self._keep = False
        self._pts: list[int] = []
        self._durations: list[int] = []

    def start(self, context: ProduceContext) -> None:
        """Reset the statistics (and the kept PTS)."""
        self.stats = TimestampStats()
        self._last_duration = None
        self._keep = self.keep_pts
        self._pts = []
        self._durations = []

    def pts_array(self) -> Int64Array:
        """Every PTS seen in the last run, ns of running time, `NONE_NS` where unknown.

        Raises
        ------
        ValueError
            ``keep-pts`` was not set when the pipeline started.
        """
        if not self._keep:
            raise ValueError(f"{self.name}: set keep-pts=true to keep the PTS of every buffer")
        return np.array(self._pts, dtype=np.int64)

    def durations_array(self) -> Int64Array:
        """Every buffer duration seen in the last run, ns, `NONE_NS` where unknown."""
        if not self._keep:
            raise ValueError(f"{self.name}: set keep-pts=true to keep the PTS of every buffer")
        return np.array(self._durations, dtype=np.int64)

    def _chain(self, buffer: Buffer) -> None:
        meta = buffer.meta
        stats = self.stats
        stats.buffers += 1
        pts = meta.pts
        if pts is None:
            stats.missing_pts += 1
        else:
            last = stats.last_pts
            if last is None:
                stats.first_pts = pts
            else:
                step = pts - last
                if step <= 0:
                    stats.non_monotonic += 1
                else:
                    stats.intervals += 1
                    stats.interval_sum += step
                    if stats.min_interval is None or step < stats.min_interval:
                        stats.min_interval = step
                    if stats.max_interval is None or step > stats.max_interval:
                        stats.max_interval = step
                    if self._last_duration and 2 * step > 3 * self._last_duration:
                        stats.gaps += 1
            stats.last_pts = pts
        self._last_duration = meta.duration
        if self._keep:
            self._pts.append(NONE_NS if pts is None else pts)
            duration = meta.duration
            self._durations.append(NONE_NS if duration is None else duration)
        if not self.silent and log.isEnabledFor(logging.DEBUG):
            log.debug(
                "[%s] PTS=%s DTS=%s Duration=%s Seq=%s",
                self.name,
                format_time(pts),
                format_time(meta.dts),
                format_time(meta.duration),
                meta.sequence,
            )
        self._push(buffer)
