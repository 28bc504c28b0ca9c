"""Compiled Cython modules (built from the top-level ``_ext/`` sources by ``setup.py``)."""
