"""A private, headless PipeWire daemon with test nodes, for tests, benchmarks and demos.

It runs in a directory of its own and touches nothing of the user's session: its own
``XDG_RUNTIME_DIR`` (mode 0700, also ``PIPEWIRE_RUNTIME_DIR``), ``XDG_CONFIG_HOME`` and
``XDG_STATE_HOME``, a session ``dbus-daemon`` on ``$XDG_RUNTIME_DIR/bus``, then ``pipewire``
with a config drop-in and ``wireplumber``. Every process is stopped by its PID; the logs stay
in ``root/logs``.

The drop-in creates two nodes:

* ``parallax-videotestsrc`` (``Video/Source``): SPA's videotestsrc, a driver that stamps every
  buffer with a ``spa_meta_header`` (pts in CLOCK_MONOTONIC ns, seq +1 per frame).
* ``parallax-sink`` (``Audio/Sink``): a null sink, 48 kHz stereo. Play into it with `play`
  and capture its monitor (``stream.capture.sink=true``): SPA's audiotestsrc stalls after ~30
  buffers in PipeWire 0.3.65, so audio comes from pw-cat instead.

Example
-------
>>> with PipeWireDaemon(tmp_path) as daemon:                        # doctest: +SKIP
...     make("pipewiresrc", remote=daemon.socket, target="parallax-videotestsrc")
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

VIDEO_NODE = "parallax-videotestsrc"
AUDIO_SINK = "parallax-sink"

# Config drop-in ($XDG_CONFIG_HOME/pipewire/pipewire.conf.d/). The spa-libs line is needed:
# without it spa-node-factory finds no videotestsrc and silently creates nothing. The stock
# Dummy-Driver stays: a graph without a driver crashed the 0.3.65 daemon.
DROP_IN = f"""\
context.spa-libs = {{
    videotestsrc = videotestsrc/libspa-videotestsrc
}}
context.objects = [
    {{ factory = spa-node-factory
        args = {{
            factory.name = videotestsrc
            node.name = {VIDEO_NODE}
            node.description = "Parallax test video"
            media.class = Video/Source
            object.linger = true
        }}
    }}
    {{ factory = adapter
        args = {{
            factory.name = support.null-audio-sink
            node.name = {AUDIO_SINK}
            node.description = "Parallax test sink"
            media.class = Audio/Sink
            audio.rate = 48000
            audio.channels = 2
            audio.position = [ FL FR ]
            object.linger = true
        }}
    }}
]
"""

PROGRAMS = ("dbus-daemon", "pipewire", "wireplumber", "pw-cli", "pw-cat")


def wait_for_processes(
    processes: Mapping[str, subprocess.Popen[bytes]],
    ready: Callable[[], bool],
    what: str,
    timeout: float,
    log_tails: Callable[[], str],
) -> None:
    """Poll ``ready`` until it is true; fail at once if one of ``processes`` exits, or after
    ``timeout`` seconds, with the processes' log tails.
    """
    deadline = time.monotonic() + timeout
    while True:
        for name, process in processes.items():
            if process.poll() is not None:
                raise DaemonError(
                    f"{name} exited with {process.returncode} while waiting for {what}\n"
                    + log_tails()
                )
        if ready():
            return
        if time.monotonic() > deadline:
            raise DaemonError(f"no {what} after {timeout} s\n" + log_tails())
        time.sleep(0.05)


class DaemonError(RuntimeError):
    """The private daemon could not be started; the message has the logs' tails."""


class PipeWireDaemon:
    """A private PipeWire daemon (with dbus-daemon and wireplumber) under ``root``.

    Parameters
    ----------
    root : path
        An empty directory for the runtime dir, config, state and logs.
    timeout : float
        Seconds to wait for each process to be ready.

    Attributes
    ----------
    socket : str
        Absolute path of the daemon's socket: pass it as ``remote`` (pipewiresrc) or set
        ``PIPEWIRE_REMOTE`` to it.
    env : dict of str to str
        Environment for clients (pw-cat, ...) of this daemon.
    """

    def __init__(self, root: str | os.PathLike[str], timeout: float = 10.0) -> None:
        self.root = Path(root)
        self.timeout = timeout
        self.runtime_dir = self.root / "run"
        self.logs = self.root / "logs"
        self.socket = str(self.runtime_dir / "pipewire-0")
        self.env = self._environment()
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._dbus_pid: int | None = None

    def _environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PIPEWIRE_", "DBUS_", "WAYLAND_", "XDG_")) and key != "DISPLAY"
        }
        env.update(
            XDG_RUNTIME_DIR=str(self.runtime_dir),
            PIPEWIRE_RUNTIME_DIR=str(self.runtime_dir),
            XDG_CONFIG_HOME=str(self.root / "config"),
            XDG_STATE_HOME=str(self.root / "state"),
            # Explicit: GLib would otherwise guess $XDG_RUNTIME_DIR/bus on its own.
            DBUS_SESSION_BUS_ADDRESS=f"unix:path={self.runtime_dir}/bus",
        )
        return env

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> PipeWireDaemon:
        """Start dbus-daemon, pipewire and wireplumber; return when the session is ready.

        Raises
        ------
        DaemonError
            A program is missing, exited, or was not ready in time (the logs are quoted).
        """
        require_programs(PROGRAMS, "pipewire, pipewire-bin, wireplumber and dbus")
        self.runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.runtime_dir.chmod(0o700)  # mkdir's mode is masked by the umask
        self.logs.mkdir(parents=True, exist_ok=True)
        drop_in = self.root / "config" / "pipewire" / "pipewire.conf.d"
        drop_in.mkdir(parents=True, exist_ok=True)
        (drop_in / "parallax-test.conf").write_text(DROP_IN)
        (self.root / "state").mkdir(exist_ok=True)
        try:
            self._start_dbus()
            self._spawn("pipewire", ["pipewire"])
            self._wait_for(lambda: Path(self.socket).exists(), "pipewire's socket")
            self._spawn("wireplumber", ["wireplumber"])
            # wireplumber publishes the "default" metadata once its policy runs.
            self._wait_for(self._session_ready, "wireplumber's default metadata")
        except BaseException:
            self.stop()
            raise
        return self

    def _start_dbus(self) -> None:
        result = subprocess.run(
            [
                "dbus-daemon",
                "--session",
                "--fork",
                "--nosyslog",
                f"--address=unix:path={self.runtime_dir}/bus",
                "--print-pid=1",
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if result.returncode != 0:
            raise DaemonError(f"dbus-daemon failed ({result.returncode}): {result.stderr}")
        self._dbus_pid = int(result.stdout.split()[0])

    def _spawn(self, name: str, argv: list[str]) -> None:
        with open(self.logs / f"{name}.log", "wb") as log:
            self._processes[name] = subprocess.Popen(
                argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def _session_ready(self) -> bool:
        result = subprocess.run(
            ["pw-cli", "ls", "Metadata"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        return 'metadata.name = "default"' in result.stdout

    def _wait_for(self, ready: Callable[[], bool], what: str) -> None:
        wait_for_processes(self._processes, ready, what, self.timeout, self.log_tails)

    def stop(self) -> None:
        """Stop wireplumber, pipewire and dbus-daemon by PID (SIGTERM, then SIGKILL)."""
        stop_children(self._processes, ("wireplumber", "pipewire"))
        if self._dbus_pid is not None:
            _stop_pid(self._dbus_pid)
            self._dbus_pid = None

    def kill_pipewire(self) -> None:
        """SIGKILL the pipewire process (fault tests: the daemon dies mid-stream)."""
        process = self._processes["pipewire"]
        process.kill()
        process.wait()

    @property
    def running(self) -> bool:
        """True while pipewire and wireplumber run."""
        return all(p.poll() is None for p in self._processes.values()) and bool(self._processes)

    def __enter__(self) -> PipeWireDaemon:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- clients ----------------------------------------------------------------------------

    def play(
        self, path: str | os.PathLike[str], target: str = AUDIO_SINK
    ) -> subprocess.Popen[bytes]:
        """Start ``pw-cat --playback`` of a sound file into ``target``; the caller stops it."""
        log = open(self.logs / "pw-cat.log", "ab")  # noqa: SIM115 (lives as long as pw-cat)
        try:
            return subprocess.Popen(
                ["pw-cat", "--playback", "--target", target, str(path)],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()  # the child has its own copy of the descriptor

    def log_tails(self, lines: int = 30) -> str:
        """The last ``lines`` lines of every log, for error messages and test reports."""
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path} ---\n" + "\n".join(text))
        return "\n".join(parts)


def require_programs(programs: tuple[str, ...], packages: str) -> None:
    """Raise `DaemonError` naming the programs not on PATH and the packages that bring them."""
    missing = [name for name in programs if shutil.which(name) is None]
    if missing:
        raise DaemonError(
            f"missing programs: {', '.join(missing)}; install {packages} (`make all` does)"
        )


def stop_children(
    processes: dict[str, subprocess.Popen[bytes]], names: tuple[str, ...], timeout: float = 3.0
) -> None:
    """SIGTERM our child processes ``names`` in order (SIGKILL if they stay), forget them."""
    for name in names:
        process = processes.pop(name, None)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _stop_pid(pid: int, timeout: float = 3.0) -> None:
    """SIGTERM a process that is not our child, wait for it to go, SIGKILL if it stays."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _gone(pid):
                return
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)


def _gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for a non-reaping init counts)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")
