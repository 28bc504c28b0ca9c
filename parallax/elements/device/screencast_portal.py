"""The xdg-desktop-portal ScreenCast dance over D-Bus (jeepney), for `screencapturesrc`.

CreateSession -> SelectSources -> Start (the PipeWire node id and size of each stream) ->
OpenPipeWireRemote (a PipeWire socket that sees only those nodes). Each of the first three
returns a Request object whose ``Response`` signal carries the answer: 0 success, 1 cancelled by
the user, 2 ended otherwise. The D-Bus connection stays open while the capture runs: the portal
ends the session when its client goes away.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any

from jeepney import DBusAddress, HeaderFields, MatchRule, Message, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from parallax.errors import DeviceError

PORTAL = DBusAddress(
    "/org/freedesktop/portal/desktop",
    bus_name="org.freedesktop.portal.Desktop",
    interface="org.freedesktop.portal.ScreenCast",
)
SOURCE_TYPES = {"monitor": 1, "window": 2, "virtual": 4}
CURSOR_MODES = {"hidden": 1, "embedded": 2, "metadata": 4}
PERSIST_MODES = {"none": 0, "session": 1, "persistent": 2}
RESPONSES = {1: "cancelled by the user", 2: "ended: the portal or its backend failed"}


class PortalError(DeviceError):
    """A portal request was refused or failed.

    Attributes
    ----------
    response : int or None
        The portal's response code (1 cancelled, 2 other), None when the D-Bus call itself
        failed or timed out.
    """

    def __init__(self, device: str, message: str, response: int | None = None) -> None:
        super().__init__(device, message)
        self.response = response


@dataclass(frozen=True)
class Stream:
    """One stream of a started session: a PipeWire node (global id) and its size in pixels."""

    node_id: int
    width: int
    height: int


class ScreenCastSession:
    """A portal ScreenCast session: `start` it, then connect PipeWire to `open_remote`'s fd.

    Parameters
    ----------
    device : str
        Shown in errors.
    timeout : float
        Seconds to wait for each D-Bus reply and each Response signal.
    bus : str
        D-Bus address of the session bus ("SESSION": ``DBUS_SESSION_BUS_ADDRESS``).
    who : str
        Prefix of error messages (the element's name).
    """

    def __init__(self, device: str, timeout: float, bus: str = "SESSION", who: str = "") -> None:
        self.device = device
        self.timeout = timeout
        self.bus = bus
        self.who = f"{who}: " if who else ""
        self.restore_token: str | None = None
        self._connection: DBusConnection | None = None
        self._session: str | None = None

    def start(
        self,
        source_types: int = 1,
        cursor_mode: int = 1,
        persist_mode: int = 0,
        restore_token: str | None = None,
    ) -> list[Stream]:
        """Create a session, select sources and start it (the three steps below in one).

        Returns
        -------
        list of Stream
            What the portal shares.

        Raises
        ------
        PortalError
            No session bus or portal, a request refused (``response``), or no answer in time.
        """
        self.create()
        self.select_sources(source_types, cursor_mode, persist_mode, restore_token)
        return self.start_streams()

    def create(self) -> None:
        """Connect to the session bus and create a portal session."""
        try:
            self._connection = open_dbus_connection(bus=self.bus, enable_fds=True)
        except (OSError, KeyError) as error:
            raise PortalError(
                self.device,
                f"{self.who}no D-Bus session bus at {self.bus} ({error}); is "
                "DBUS_SESSION_BUS_ADDRESS (or `bus`) right and xdg-desktop-portal running?",
            ) from None
        results = self._request("CreateSession", {"session_handle_token": ("s", self._token())})
        self._session = str(results["session_handle"][1])

    def select_sources(
        self,
        source_types: int = 1,
        cursor_mode: int = 1,
        persist_mode: int = 0,
        restore_token: str | None = None,
    ) -> None:
        """Say what to share (``SOURCE_TYPES`` bits, a ``CURSOR_MODES`` value, ...)."""
        options: dict[str, tuple[str, Any]] = {
            "types": ("u", source_types),
            "multiple": ("b", False),
            "cursor_mode": ("u", cursor_mode),
        }
        if persist_mode:
            options["persist_mode"] = ("u", persist_mode)
        if restore_token:
            options["restore_token"] = ("s", restore_token)
        self._request("SelectSources", options, session=True)

    def start_streams(self) -> list[Stream]:
        """Start the session; return its streams (PipeWire node ids and sizes)."""
        results = self._request("Start", {}, session=True, parent_window="")
        if "restore_token" in results:
            self.restore_token = str(results["restore_token"][1])
        streams = []
        for node_id, properties in results.get("streams", ("", []))[1]:
            width, height = properties.get("size", ("(ii)", (0, 0)))[1]
            streams.append(Stream(int(node_id), int(width), int(height)))
        if not streams:
            raise PortalError(
                self.device, f"{self.who}the portal started a session with no stream", 2
            )
        return streams

    def open_remote(self) -> int:
        """Return a PipeWire socket fd (the caller owns it) that sees the session's nodes."""
        assert self._connection is not None and self._session is not None
        call = new_method_call(PORTAL, "OpenPipeWireRemote", "oa{sv}", (self._session, {}))
        reply = self._call(call)
        return int(reply.body[0].to_raw_fd())

    def close(self) -> None:
        """Close the portal session and the D-Bus connection (idempotent)."""
        if self._connection is None:
            return
        try:
            if self._session is not None:
                session = DBusAddress(
                    self._session,
                    bus_name=PORTAL.bus_name,
                    interface="org.freedesktop.portal.Session",
                )
                self._connection.send(new_method_call(session, "Close"))
        except OSError:
            pass  # the bus is gone: so is the session
        finally:
            self._connection.close()
            self._connection = None
            self._session = None

    # -- requests ---------------------------------------------------------------------------

    @staticmethod
    def _token() -> str:
        return "parallax_" + secrets.token_hex(8)

    def _call(self, call: Message) -> Message:
        assert self._connection is not None
        method = call.header.fields.get(HeaderFields.member)
        try:
            reply = self._connection.send_and_get_reply(call, timeout=self.timeout)
        except TimeoutError:
            raise PortalError(
                self.device,
                f"{self.who}the portal did not answer {method} within {self.timeout:g} s",
            ) from None
        if reply.header.message_type == MessageType.error:
            raise PortalError(
                self.device,
                f"{self.who}the portal refused {method}: {reply.body[0] if reply.body else reply}; "
                "is "
                "xdg-desktop-portal running with a ScreenCast backend (xdg-desktop-portal-wlr "
                "on wlroots compositors)?",
            )
        return reply

    def _request(
        self,
        method: str,
        options: dict[str, tuple[str, Any]],
        session: bool = False,
        parent_window: str | None = None,
    ) -> dict[str, Any]:
        """Call ``method`` and wait for its Request's Response; return the results."""
        assert self._connection is not None
        token = self._token()
        sender = (self._connection.unique_name or "").lstrip(":").replace(".", "_")
        path = f"/org/freedesktop/portal/desktop/request/{sender}/{token}"
        rule = MatchRule(
            type="signal",
            interface="org.freedesktop.portal.Request",
            member="Response",
            path=path,
        )
        self._call(message_bus.AddMatch(rule))
        options = dict(options, handle_token=("s", token))
        if session:
            assert self._session is not None
            if parent_window is None:
                call = new_method_call(PORTAL, method, "oa{sv}", (self._session, options))
            else:
                call = new_method_call(
                    PORTAL, method, "osa{sv}", (self._session, parent_window, options)
                )
        else:
            call = new_method_call(PORTAL, method, "a{sv}", (options,))
        with self._connection.filter(rule) as queue:
            self._call(call)
            try:
                signal = self._connection.recv_until_filtered(queue, timeout=self.timeout)
            except TimeoutError:
                raise PortalError(
                    self.device, f"{self.who}no answer to {method} within {self.timeout:g} s"
                ) from None
        response, results = signal.body
        if response != 0:
            raise PortalError(
                self.device,
                f"{self.who}the portal refused {method}: response {response} "
                f"({RESPONSES.get(response, 'unknown')})",
                int(response),
            )
        return dict(results)


def close_fd(fd: int) -> None:
    """Close ``fd`` if it is one (>= 0)."""
    if fd >= 0:
        os.close(fd)
