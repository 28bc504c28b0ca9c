"""Debugging elements (timestampdebug)."""
