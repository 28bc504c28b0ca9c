"""Encoders (h264enc, aacenc) on PyAV: output packets carry the input's capture times."""
