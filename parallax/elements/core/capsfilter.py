"""capsfilter: limits the formats on a link (``! video/x-raw,width=640 !`` in gst-launch)."""

from __future__ import annotations

from parallax.caps import Caps
from parallax.pipeline.element import Pad, Property, Transform


class CapsFilter(Transform):
    """Restrict negotiation to ``caps``; buffers pass through unchanged.

    Example: ``videotestsrc ! video/x-raw,width=640,height=480,framerate=30/1 ! fakesink``.
    """

    factory_name = "capsfilter"
    description = "Restrict the formats on a link"
    caps = Property(Caps, Caps.any(), "formats allowed through (gst-launch caps string)")

    def sink_caps(self, pad: Pad) -> Caps:
        """The filter caps."""
        return self.caps

    def src_caps(self, pad: Pad) -> Caps:
        """The filter caps."""
        return self.caps
