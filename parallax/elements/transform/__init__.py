"""Transforms that keep every buffer's metadata: format conversions (videoconvert,
audioconvert) and rate conversion (audioresample).
"""
