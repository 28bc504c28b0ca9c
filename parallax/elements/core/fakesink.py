"""fakesink: consumes buffers (optionally on the clock) and counts them."""

from __future__ import annotations

from parallax.pipeline.element import Sink


class FakeSink(Sink):
    """Throw buffers away, after waiting for their time when ``sync`` is on.

    ``rendered``, ``late`` and ``dropped`` count what happened.
    Example: ``parallax launch "videotestsrc is-live=true num-buffers=30 ! fakesink sync=true"``.
    """

    factory_name = "fakesink"
    description = "Consume buffers (with clock sync) and count them"
