"""Benchmarks marked ``lab`` run only inside the lab VM (``make bench-lab``)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect lab benchmarks outside the lab VM, as tests/conftest.py does for tests."""
    if os.environ.get("PARALLAX_LAB") == "1":
        return
    lab = [item for item in items if item.get_closest_marker("lab") is not None]
    if lab:
        config.hook.pytest_deselected(items=lab)
        items[:] = [item for item in items if item.get_closest_marker("lab") is None]
