"""identity: passes buffers through unchanged."""

from __future__ import annotations

from parallax.buffer import Buffer
from parallax.pipeline.element import Transform


class Identity(Transform):
    """Pass every buffer through untouched (metadata and data are the same objects).

    Example: ``parallax launch "videotestsrc num-buffers=10 ! identity ! fakesink"``.
    """

    factory_name = "identity"
    description = "Pass buffers through unchanged"

    def _chain(self, buffer: Buffer) -> None:
        # Nothing can fail here, so skip the base class's call of process().
        self._push(buffer)
