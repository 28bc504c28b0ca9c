"""A headless Wayland desktop with the ScreenCast portal, on a private PipeWire daemon.

`ScreenCastDesktop` starts, beside a running `PipeWireDaemon` (whose session bus and runtime dir
it shares):

* ``sway`` with the headless backend and the pixman renderer (no GPU). sway 1.7 refuses to run
  as root, so it runs as ``nobody`` in a runtime dir of its own outside pytest's 0700 temp dirs;
  its Wayland socket is passed to clients by absolute path.
* ``xdg-desktop-portal-wlr`` built by ``tools/build-xdpw`` (Debian's 0.7.0 source plus
  ``tools/xdpw-shm-fallback.patch``: the stock binary fails ``Start`` without a GPU), configured
  with ``chooser_type=none`` and ``output_name=HEADLESS-1``.
* ``xdg-desktop-portal``, pointed at a portal file of our own (``XDG_DESKTOP_PORTAL_DIR``).

The screen is painted with solid colours (`paint`, sway's ``output bg``): the screencopy is
damage driven, so a static screen yields almost no frames. Processes stop by PID.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from parallax.testing.pipewire import (
    DaemonError,
    PipeWireDaemon,
    require_programs,
    stop_children,
    wait_for_processes,
)

OUTPUT = "HEADLESS-1"
WIDTH, HEIGHT = 640, 480
PROGRAMS = ("sway", "swaymsg", "swaybg", "/usr/libexec/xdg-desktop-portal")
REPO = Path(__file__).resolve().parents[2]
XDPW_CACHE = Path(
    os.environ.get("PARALLAX_SCREEN_CACHE", Path.home() / ".cache" / "parallax-screen")
)

PORTAL_FILE = """\
[portal]
DBusName=org.freedesktop.impl.portal.desktop.wlr
Interfaces=org.freedesktop.impl.portal.Screenshot;org.freedesktop.impl.portal.ScreenCast;
UseIn=wlroots;sway;
"""

SWAY_CONFIG = f"""\
output {OUTPUT} mode {WIDTH}x{HEIGHT} bg #000000 solid_color
default_border none
xwayland disable
"""


def build_xdpw(cache: Path = XDPW_CACHE) -> Path:
    """Build (once; again when the patch changes) the patched xdg-desktop-portal-wlr.

    Returns
    -------
    Path
        The binary.
    """
    result = subprocess.run(
        [str(REPO / "tools" / "build-xdpw"), str(cache)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise DaemonError(f"tools/build-xdpw failed ({result.returncode}): {result.stderr}")
    return cache / "xdg-desktop-portal-wlr"


class ScreenCastDesktop:
    """sway + xdg-desktop-portal-wlr + xdg-desktop-portal on ``daemon``'s session bus.

    Parameters
    ----------
    daemon : PipeWireDaemon
        A started daemon: its ``env`` (runtime dir, session bus) is shared.
    timeout : float
        Seconds to wait for each process to be ready.

    Attributes
    ----------
    wayland_display : str
        Absolute path of sway's Wayland socket.
    """

    def __init__(self, daemon: PipeWireDaemon, timeout: float = 10.0) -> None:
        self.daemon = daemon
        self.timeout = timeout
        self.logs = daemon.logs
        self._home: Path | None = None
        self.wayland_display = ""
        self._sway_env: dict[str, str] = {}
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> ScreenCastDesktop:
        """Build xdpw if needed, start sway, xdpw and the portal; return when all are ready.

        Raises
        ------
        DaemonError
            A program is missing, exited, or was not ready in time (the logs are quoted).
        """
        require_programs(PROGRAMS, "sway, swaybg and xdg-desktop-portal")
        xdpw = build_xdpw()
        try:
            self._start_sway()
            root = self.daemon.root
            (root / "portals").mkdir(exist_ok=True)
            (root / "portals" / "wlr.portal").write_text(PORTAL_FILE)
            config = root / "xdpw.conf"
            config.write_text(
                f"[screencast]\noutput_name={OUTPUT}\nchooser_type=none\nmax_fps=60\n"
            )
            env = dict(
                self.daemon.env,
                WAYLAND_DISPLAY=self.wayland_display,
                XDG_CURRENT_DESKTOP="sway",
                XDG_DESKTOP_PORTAL_DIR=str(root / "portals"),
            )
            self._spawn("xdpw", [str(xdpw), "-l", "DEBUG", "-c", str(config)], env)
            self._wait_for(lambda: self._on_bus("org.freedesktop.impl.portal.desktop.wlr"), "xdpw")
            self._spawn("xdg-desktop-portal", ["/usr/libexec/xdg-desktop-portal", "-v", "-r"], env)
            self._wait_for(lambda: self._on_bus("org.freedesktop.portal.Desktop"), "the portal")
        except BaseException:
            self.stop()
            raise
        return self

    def _start_sway(self) -> None:
        nobody = pwd.getpwnam("nobody")
        # Outside pytest's temp dirs: nobody cannot enter root's 0700 directories.
        self._home = Path(tempfile.mkdtemp(prefix="parallax-sway-"))
        os.chown(self._home, nobody.pw_uid, nobody.pw_gid)
        (self._home / "config").write_text(SWAY_CONFIG)
        self.wayland_display = str(self._home / "wayland-1")
        self._sway_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self._home),
            "XDG_RUNTIME_DIR": str(self._home),
            "WLR_BACKENDS": "headless",
            "WLR_LIBINPUT_NO_DEVICES": "1",
            "WLR_RENDERER": "pixman",
            "WAYLAND_DISPLAY": "wayland-1",
            "SWAYSOCK": str(self._home / "sway.sock"),
        }
        self._spawn(
            "sway",
            ["sway", "--config", str(self._home / "config")],
            self._sway_env,
            user=nobody.pw_uid,
            group=nobody.pw_gid,
        )
        self._wait_for(lambda: Path(self._sway_env["SWAYSOCK"]).exists(), "sway's IPC socket")
        self._wait_for(lambda: Path(self.wayland_display).exists(), "sway's Wayland socket")

    def _spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        user: int | None = None,
        group: int | None = None,
    ) -> None:
        with open(self.logs / f"{name}.log", "wb") as log:
            self._processes[name] = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                user=user,
                group=group,
                extra_groups=[] if user is not None else None,
            )

    def _on_bus(self, name: str) -> bool:
        result = subprocess.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                f"string:{name}",
            ],
            env=self.daemon.env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        return "boolean true" in result.stdout

    def _wait_for(self, ready: Callable[[], bool], what: str) -> None:
        wait_for_processes(self._processes, ready, what, self.timeout, self.log_tails)

    def stop(self) -> None:
        """Stop the portal, xdpw and sway by PID (SIGTERM, then SIGKILL); remove sway's dir."""
        stop_children(self._processes, ("xdg-desktop-portal", "xdpw", "sway"))
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    def kill_compositor(self) -> None:
        """SIGKILL sway (fault tests: the compositor goes away under the portal)."""
        process = self._processes["sway"]
        process.kill()
        process.wait()

    def __enter__(self) -> ScreenCastDesktop:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the screen -----------------------------------------------------------------------

    def sway(self, *command: str) -> None:
        """Run a sway command through swaymsg (as nobody, sway's user)."""
        nobody = pwd.getpwnam("nobody")
        result = subprocess.run(
            ["swaymsg", *command],
            env=self._sway_env,
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if result.returncode != 0:
            raise DaemonError(f"swaymsg {' '.join(command)} failed: {result.stdout}{result.stderr}")

    def paint(self, rgb: tuple[int, int, int]) -> None:
        """Fill the output with one colour (sway starts a swaybg for it)."""
        self.sway("output", OUTPUT, "bg", "#{:02x}{:02x}{:02x}".format(*rgb), "solid_color")

    def log_tails(self, lines: int = 30) -> str:
        """The last ``lines`` of each log (ours share the daemon's log folder)."""
        return self.daemon.log_tails(lines)
