import threading

import pytest


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Every pipeline test must leave no streaming thread behind."""
    yield
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("parallax:")]
    assert not leaked, f"streaming threads still running: {leaked}"
