"""Built-in test sources (videotestsrc, audiotestsrc): live or as fast as possible."""
