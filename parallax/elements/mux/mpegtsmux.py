"""mpegtsmux: H.264 and AAC into an MPEG transport stream."""

from __future__ import annotations

from parallax.elements.mux.avmux import AvMux


class MpegTsMux(AvMux):
    """Write an MPEG-TS file; packet times are the buffers' PTS/DTS on the 90 kHz clock.

    MPEG-TS counts 90 kHz ticks, so each time is within one tick (11.1 µs) of the buffer's.
    FFmpeg shifts every stream by one common amount if the first DTS would be negative
    (B-frames, AAC priming at time 0), which keeps A/V sync; streams that start at running
    time >= 1 s are written unshifted. A TS file is readable up to its last complete packet
    after a crash. Example: ``... ! h264enc ! mpegtsmux location=a.ts``.
    """

    factory_name = "mpegtsmux"
    description = "Mux H.264 and AAC into MPEG transport stream"
    container_format = "mpegts"

    def container_options(self, live: bool) -> dict[str, str]:
        """Flush each packet when live, so a crash loses as little as possible."""
        return {"flush_packets": "1"} if live else {}
