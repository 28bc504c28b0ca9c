"""`ProduceContext`: what every element knows about time while the pipeline plays."""

from __future__ import annotations

from typing import TYPE_CHECKING

from parallax.clock.base import Clock
from parallax.time import CaptureTime

if TYPE_CHECKING:
    from parallax.pipeline.element import Element
    from parallax.pipeline.graph import Pipeline


class ProduceContext:
    """The pipeline clock, base time and running time, handed to every element at PLAYING.

    Running time is ``clock.now() - base_time`` (ns): 0 when the pipeline started playing,
    paused time not counted. Buffer PTS/DTS are running times.
    """

    __slots__ = ("_pipeline", "clock")

    def __init__(self, pipeline: Pipeline, clock: Clock) -> None:
        self._pipeline = pipeline
        self.clock = clock

    @property
    def base_time(self) -> int:
        """Clock time (ns, the clock's own time) at which running time is 0."""
        return self._pipeline.base_time

    @property
    def latency(self) -> int:
        """ns sync sinks add to each PTS: the largest latency of the live sources plus the
        pipeline's processing deadline (0 when nothing is live).
        """
        return self._pipeline.latency

    @property
    def sync_sinks(self) -> bool:
        """Default of sinks' ``sync``: True when a source is live."""
        return self._pipeline.is_live

    @property
    def stopping(self) -> bool:
        """True once the pipeline is tearing down: blocking calls must return."""
        return self._pipeline.stopping

    def running_time(self) -> int:
        """Running time now, ns."""
        return self.clock.now() - self._pipeline.base_time

    def to_running_time(self, capture: CaptureTime) -> int:
        """Map a raw hardware timestamp to running time, ns (through the pipeline clock).

        Raises
        ------
        ClockError
            The pipeline clock cannot map the timestamp's domain.
        """
        return self.clock.to_clock_time(capture) - self._pipeline.base_time

    def wait_running_time(self, running_time: int) -> bool:
        """Block until running time reaches ``running_time`` (ns). False when stopping.

        A pause in between holds the wait; the base time moves by the paused duration, so
        the wait ends at the same running time.
        """
        pipeline = self._pipeline
        while pipeline._await_playing():
            interrupt = pipeline._interrupt
            if self.clock.wait_until(pipeline.base_time + running_time, interrupt):
                return not pipeline.stopping
        return False

    def post_qos(self, element: Element, pts: int, lateness: int, *, dropped: bool) -> None:
        """Report a late (and maybe dropped) buffer on the bus."""
        self._pipeline.post_qos(element, pts, lateness, dropped=dropped)
