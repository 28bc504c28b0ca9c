"""mp4mux: H.264 and AAC into MP4, fragmented for live sources (crash-safe)."""

from __future__ import annotations

from fractions import Fraction

from parallax.elements.mux.avmux import AvMux
from parallax.pipeline.element import Property
from parallax.time import MSECOND, SECOND, USECOND


class Mp4Mux(AvMux):
    """Write an MP4 file; packet times are the buffers' PTS/DTS (ns), never a frame count.

    ``fragmented`` (default: when a source is live) ends a fragment at each keyframe and
    after ``fragment-duration`` and flushes it to the file at once, so a crash or power cut
    loses at most the last fragment (0.5 s by default). Otherwise the index is written at the
    end (``faststart``, default when not live, moves it to the front for web playback). The
    video track counts ``timescale`` ticks a second (1e9 by default: capture times stay exact
    to the ns) and the edit lists use the same scale, so a stream starting at 2.012345678 s
    starts there.
    Example: ``... ! h264enc ! mux.  ... ! aacenc ! mux.  mp4mux name=mux location=a.mp4``.
    """

    factory_name = "mp4mux"
    description = "Mux H.264 and AAC into MP4 (fragmented when live)"
    container_format = "mp4"
    fragmented = Property(bool, None, "fragment at keyframes, crash-safe (default: when live)")
    faststart = Property(bool, None, "index at the front; not fragmented only (default: true)")
    fragment_duration = Property(
        int, 500 * MSECOND, "ns of media after which a fragment ends (also at keyframes)",
        minimum=1 * MSECOND,
    )  # fmt: skip
    timescale = Property(
        int, SECOND, "video ticks per second (1e9 keeps ns capture times exact)", minimum=1,
        maximum=2**32 - 1,
    )  # fmt: skip

    def container_options(self, live: bool) -> dict[str, str]:
        """movflags for fragmented or indexed MP4, and a fine movie timescale."""
        # The movie timescale places each track's start (edit list); FFmpeg's 1/1000 default
        # would round a capture time to the millisecond.
        options = {"movie_timescale": str(SECOND)}
        fragmented = live if self.fragmented is None else self.fragmented
        if fragmented:
            # delay_moov: the header waits for the first packets, so the edit lists can say
            # where each stream starts; flush_packets: each fragment reaches the disk at once.
            options["movflags"] = "frag_keyframe+delay_moov+default_base_moof"
            options["frag_duration"] = str(self.fragment_duration // USECOND)
            options["flush_packets"] = "1"
        elif self.faststart is not False:
            options["movflags"] = "faststart"
        return options

    def video_time_base(self) -> Fraction:
        """1 / ``timescale``."""
        return Fraction(1, self.timescale)
