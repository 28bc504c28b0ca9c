"""Muxers (mp4mux, mpegtsmux) on PyAV: aggregators that write buffer PTS/DTS into files."""
