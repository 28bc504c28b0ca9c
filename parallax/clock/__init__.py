"""Clocks: the time source a pipeline runs on, and how it is chosen."""

from parallax.clock.base import Clock, ClockFlags, ClockProvider, select_clock
from parallax.clock.manual import ManualClock
from parallax.clock.system import SystemClock

__all__ = ["Clock", "ClockFlags", "ClockProvider", "ManualClock", "SystemClock", "select_clock"]
