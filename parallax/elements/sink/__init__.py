"""Sinks that store data (filesink)."""
