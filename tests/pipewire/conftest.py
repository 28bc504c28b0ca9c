"""A private PipeWire daemon for the `pipewire` tests (one per session; fault tests make their own).

Processes are started and stopped by PID (parallax.testing.pipewire). The logs stay under the
pytest base temp dir and their tails are added to the report of any failing test that used a
daemon.
"""

import os
import threading
from pathlib import Path

import pytest

from parallax.testing.pipewire import PipeWireDaemon
from parallax.testing.screencast import ScreenCastDesktop

_daemons: list[PipeWireDaemon] = []
_desktops: list[ScreenCastDesktop] = []


@pytest.fixture(scope="session")
def pipewire_daemon(tmp_path_factory):
    daemon = PipeWireDaemon(tmp_path_factory.mktemp("pipewire"))
    _daemons.append(daemon)
    with daemon:
        yield daemon


@pytest.fixture
def fresh_daemon(tmp_path):
    """A daemon of the test's own, for tests that kill it."""
    daemon = PipeWireDaemon(tmp_path / "pipewire")
    _daemons.append(daemon)
    with daemon:
        yield daemon


@pytest.fixture(scope="session")
def screencast_desktop(pipewire_daemon):
    """Headless sway + the ScreenCast portal (patched xdpw) on the session daemon's bus."""
    desktop = ScreenCastDesktop(pipewire_daemon)
    _desktops.append(desktop)
    with desktop:
        yield desktop


@pytest.fixture
def fresh_desktop(fresh_daemon):
    """A desktop of the test's own, for tests that kill its compositor."""
    desktop = ScreenCastDesktop(fresh_daemon)
    _desktops.append(desktop)
    with desktop:
        yield desktop


def _threads() -> dict[int, str]:
    """Every thread of this process (Python's and libpipewire's), by tid."""
    threads = {}
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            threads[int(task.name)] = (task / "comm").read_text().strip()
        except FileNotFoundError:
            continue  # ended meanwhile
    return threads


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Every test leaves no thread behind: no streaming thread, no PipeWire loop or data loop."""
    before = _threads()
    yield
    leaked = {tid: name for tid, name in _threads().items() if tid not in before}
    leaked_python = [t.name for t in threading.enumerate() if t.name.startswith("parallax:")]
    assert not leaked and not leaked_python, f"threads still running: {leaked} {leaked_python}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and {"pipewire_daemon", "fresh_daemon"} & set(item.fixturenames):
        for daemon in _daemons:
            report.sections.append((f"pipewire logs ({daemon.root})", daemon.log_tails(60)))
        for desktop in _desktops:
            report.sections.append((f"desktop logs ({desktop.logs})", desktop.log_tails(60)))
