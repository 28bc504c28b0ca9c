"""Raw format conversions that keep every buffer's metadata (videoconvert, audioconvert)."""
