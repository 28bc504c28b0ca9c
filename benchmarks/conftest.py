import pytest

from parallax.testing.pipewire import PipeWireDaemon


@pytest.fixture(scope="session")
def pipewire_daemon(tmp_path_factory):
    with PipeWireDaemon(tmp_path_factory.mktemp("pipewire")) as daemon:
        yield daemon
