"""The executor: one streaming thread per loop (source, queue, aggregator), joined with a
deadline so that nothing hangs at teardown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from parallax.pipeline.element import Element, ElementFailedError

log = logging.getLogger("parallax.pipeline")

FailureHandler = Callable[[Element, BaseException], None]


class Executor:
    """Runs streaming loops in daemon threads and reports their failures.

    Parameters
    ----------
    on_failure : callable
        Called (in the failing thread) with the element whose own code raised and the
        exception.
    """

    def __init__(self, on_failure: FailureHandler) -> None:
        self._on_failure = on_failure
        self._threads: list[threading.Thread] = []

    def start(self, element: Element, loop: Callable[[], None]) -> None:
        """Run ``loop`` in a new streaming thread named after ``element``."""
        thread = threading.Thread(
            target=self._run, args=(element, loop), name=f"parallax:{element.name}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _run(self, element: Element, loop: Callable[[], None]) -> None:
        try:
            loop()
        except ElementFailedError as failure:
            self._on_failure(failure.element, failure.error)
        except BaseException as error:  # the loop's own element failed
            self._on_failure(element, error)

    def join(self, timeout: float) -> list[str]:
        """Join every thread within ``timeout`` seconds in all; return the names still alive."""
        deadline = time.monotonic() + timeout
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive() and t is not current]
        if alive:
            log.error("streaming threads still running after %.1f s: %s", timeout, alive)
        self._threads = [t for t in self._threads if t.is_alive()]
        return alive

    @property
    def running(self) -> bool:
        """True while any streaming thread runs."""
        return any(t.is_alive() for t in self._threads)
