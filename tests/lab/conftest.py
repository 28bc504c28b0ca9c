"""Lab tests run only inside the lab VM (``make lab-test``); elsewhere they are skipped."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PARALLAX_LAB") == "1":
        return
    skip = pytest.mark.skip(reason="needs the lab VM: run `make lab-test`")
    for item in items:
        if item.get_closest_marker("lab") is not None:
            item.add_marker(skip)
