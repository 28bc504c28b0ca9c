"""The bus: messages from elements and the pipeline to the application."""

from __future__ import annotations

import dataclasses
import enum
import threading
import time
from collections import deque
from collections.abc import Container
from typing import Any


class MessageType(enum.Enum):
    """What a message is about."""

    EOS = "eos"
    """Every sink has received end-of-stream."""
    ERROR = "error"
    """An element failed; the pipeline stops. ``error`` holds the `PipelineError`."""
    WARNING = "warning"
    """Something is off but streaming goes on (a repaired timestamp, a dropped frame)."""
    INFO = "info"
    """Informational."""
    CLOCK_SELECTED = "clock-selected"
    """The pipeline chose its clock; ``data``: ``clock``, ``priority``, ``provider``."""
    STATE_CHANGED = "state-changed"
    """The pipeline changed state; ``data``: ``old``, ``new``."""
    QOS = "qos"
    """A buffer was late or dropped; ``data``: ``pts``, ``lateness``, ``dropped``."""
    ELEMENT = "element"
    """Element-specific."""


@dataclasses.dataclass(frozen=True)
class Message:
    """One bus message.

    Attributes
    ----------
    type : MessageType
    source : str
        The element (or ``"pipeline"``) that posted it.
    text : str
        Human-readable summary.
    data : dict
        Structured details (times in ns).
    error : BaseException or None
        For ERROR messages, the exception `Pipeline.run` raises.
    posted_at : int
        ``CLOCK_MONOTONIC`` ns when posted.
    """

    type: MessageType
    source: str
    text: str = ""
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: BaseException | None = None
    posted_at: int = dataclasses.field(default_factory=time.monotonic_ns)

    def __str__(self) -> str:
        return f"[{self.type.value}] {self.source}: {self.text}"


class Bus:
    """A thread-safe message queue; the latest messages are also kept in `history`.

    Parameters
    ----------
    history_size : int
        How many messages `history` keeps (the oldest go first), so that a pipeline running
        for days does not grow without bound.
    """

    def __init__(self, history_size: int = 10_000) -> None:
        self._queue: deque[Message] = deque()
        self._posted = threading.Condition()
        self.history: deque[Message] = deque(maxlen=history_size)

    def post(self, message: Message) -> None:
        """Post a message (any thread)."""
        with self._posted:
            self._queue.append(message)
            self.history.append(message)
            self._posted.notify_all()

    def pop(
        self, timeout: float | None = None, types: Container[MessageType] | None = None
    ) -> Message | None:
        """Take the next message (of one of ``types``, others are discarded).

        Parameters
        ----------
        timeout : float or None
            Seconds to wait; None waits forever, 0 does not wait.

        Returns
        -------
        Message or None
            None when nothing came within ``timeout``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._posted:
            while True:
                while self._queue:
                    message = self._queue.popleft()
                    if types is None or message.type in types:
                        return message
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._posted.wait(left)

    def messages(self, kind: MessageType) -> list[Message]:
        """All messages of one type posted so far (from `history`)."""
        with self._posted:
            return [m for m in self.history if m.type is kind]
