"""Test tiers for tests/ and benchmarks/: `lab` items run only inside the lab VM (``make
lab-test`` and ``make bench-lab`` boot it once); elsewhere they are deselected, not skipped.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) lab tests outside the lab VM; ``make test`` runs them in it."""
    if os.environ.get("PARALLAX_LAB") == "1":
        return
    lab = [item for item in items if item.get_closest_marker("lab") is not None]
    if lab:
        config.hook.pytest_deselected(items=lab)
        items[:] = [item for item in items if item.get_closest_marker("lab") is None]
