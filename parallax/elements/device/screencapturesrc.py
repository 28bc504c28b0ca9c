"""screencapturesrc: the screen through the xdg-desktop-portal ScreenCast portal."""

from __future__ import annotations

from parallax.elements.device.pipewiresrc import PipeWireSrc
from parallax.elements.device.screencast_portal import (
    CURSOR_MODES,
    PERSIST_MODES,
    SOURCE_TYPES,
    ScreenCastSession,
    close_fd,
)
from parallax.pipeline.element import Property
from parallax.time import SECOND


class ScreenCaptureSrc(PipeWireSrc):
    """Capture a monitor through the ScreenCast portal, with the compositor's frame times.

    ``open`` runs the portal dance on the session bus (CreateSession, SelectSources, Start,
    OpenPipeWireRemote), then reads the portal's node over the portal's PipeWire fd exactly as
    `pipewiresrc` does: PTS from ``spa_meta_header.pts`` (CLOCK_MONOTONIC, when the compositor
    captured the frame). The frame rate is variable (damage driven: caps ``framerate=0/1``);
    buffers carry no duration, since it would take waiting for the next frame, which a static
    screen may never send. ``target`` and ``fd`` are set from the portal: do not set them.

    Example: ``screencapturesrc ! video/x-raw ! timestampdebug ! fakesink``

    Raises
    ------
    PortalError
        (a `DeviceError`) the portal refused a request: ``response`` is its code.
    """

    factory_name = "screencapturesrc"
    description = "a monitor through the xdg-desktop-portal ScreenCast portal (PipeWire)"

    source_type = Property(str, "monitor", "what to share", choices=tuple(SOURCE_TYPES))
    cursor = Property(str, "hidden", "how the cursor is shown", choices=tuple(CURSOR_MODES))
    persist = Property(
        str, "none", "how long the portal keeps the grant", choices=tuple(PERSIST_MODES)
    )
    restore_token = Property(str, "", "token from an earlier session (skips the dialog)")
    bus = Property(str, "", "D-Bus session bus address (empty: DBUS_SESSION_BUS_ADDRESS)")
    portal_timeout = Property(int, 10 * SECOND, "ns to wait for each portal answer", minimum=1)

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self._portal: ScreenCastSession | None = None

    @property
    def device(self) -> str:
        """``screencast:<node>`` once started, ``screencast:portal`` before."""
        return f"screencast:{self.target or 'portal'}"

    def open(self) -> None:
        """Start a portal session and connect to its node through the portal's fd.

        Raises
        ------
        PortalError
            The portal is missing or refused a request.
        DeviceError
            PipeWire refused the portal's fd or the node is not there.
        """
        self._portal = ScreenCastSession(
            self.device, self.portal_timeout / SECOND, self.bus or "SESSION", self.name
        )
        fd = -1
        try:
            streams = self._portal.start(
                SOURCE_TYPES[self.source_type],
                CURSOR_MODES[self.cursor],
                PERSIST_MODES[self.persist],
                self.restore_token or None,
            )
            self.target = str(streams[0].node_id)  # a global id: matched as the node id
            fd = self._portal.open_remote()
            self.fd = fd
            super().open()
        except BaseException:
            self.close()
            raise
        finally:
            close_fd(fd)  # pipewiresrc dup()ed what it keeps
            self.fd = -1
        if self._portal.restore_token:
            self.restore_token = self._portal.restore_token

    def close(self) -> None:
        """Disconnect from PipeWire, then close the portal session."""
        super().close()
        if self._portal is not None:
            self._portal.close()
            self._portal = None
