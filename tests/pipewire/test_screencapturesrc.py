"""screencapturesrc through the ScreenCast portal on a headless sway (tests/pipewire/conftest.py).

The screen is repainted with solid colours while capturing: the compositor's screencopy is
damage driven, so the frames come when the screen changes, each stamped with the compositor's
capture time (``spa_meta_header.pts``, CLOCK_MONOTONIC).
"""

import threading
import time

import numpy as np
import pytest

import parallax
from parallax import DeviceError, State
from parallax.elements.device.screencast_portal import PortalError, ScreenCastSession
from parallax.testing.screencast import HEIGHT, WIDTH
from parallax.time import SECOND, ClockDomain

pytestmark = pytest.mark.pipewire

PAINTED = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
# sway's own clear colour (0.25 grey) shows for a moment while one swaybg replaces another.
SWAY_GREY = (63, 63, 63)


class Painter(threading.Thread):
    """Cycles the screen through PAINTED every ``interval`` s until stopped."""

    def __init__(self, desktop, interval=0.15):
        super().__init__(name="painter")
        self.desktop = desktop
        self.interval = interval
        self.done = threading.Event()

    def run(self):
        step = 0
        while not self.done.wait(self.interval if step else 0):
            self.desktop.paint(PAINTED[step % len(PAINTED)])
            step += 1

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join()


def rgb(frame):
    """The BGRx pixels of ``frame`` as (R, G, B) rows."""
    return frame[..., [2, 1, 0]].reshape(-1, 3)


@pytest.mark.slow
def test_portal_session_of_5s_has_header_pts_at_wall_speed_and_the_painted_colours(
    screencast_desktop,
):
    env = screencast_desktop.daemon.env
    pipeline = parallax.parse_launch(
        f"screencapturesrc name=src bus={env['DBUS_SESSION_BUS_ADDRESS']} "
        "timestamp-policy=device ! appsink name=out sync=false"
    )
    sink = pipeline.get("out")
    buffers, arrivals = [], []
    with Painter(screencast_desktop), pipeline:
        pipeline.set_state(State.PLAYING)
        started = time.monotonic_ns()
        while time.monotonic_ns() - started < 5 * SECOND:
            buffers.append(sink.pull(timeout=5.0))
            arrivals.append(time.monotonic_ns())
        base_time = pipeline.base_time
    assert sink.format.pixel_format == "BGRx"
    assert (sink.format.width, sink.format.height) == (WIDTH, HEIGHT)
    # Every frame has the header pts: timestamp-policy=device fails the stream otherwise.
    assert len(buffers) >= 20, f"only {len(buffers)} frames in 5 s"
    for buffer in buffers:
        assert buffer.meta.capture.domain is ClockDomain.MONOTONIC
        assert buffer.pts == buffer.meta.capture.ns - base_time  # SystemClock: identity
    capture = np.array([b.meta.capture.ns for b in buffers])
    arrival = np.array(arrivals)
    assert np.all(np.diff(capture) > 0)
    assert np.all(capture < arrival)  # captured before we saw it
    pts_span = int(capture[-1] - capture[0])
    wall_span = int(arrival[-1] - arrival[0])
    assert wall_span > 4 * SECOND
    assert abs(pts_span - wall_span) * 20 <= wall_span, (pts_span, wall_span)  # within 5 %
    # The frames show what was painted: whole frames of one painted colour each.
    seen = set()
    for buffer in buffers:
        pixels = rgb(buffer.data)
        colours = {tuple(int(c) for c in p) for p in np.unique(pixels, axis=0)}
        assert colours <= set(PAINTED) | {SWAY_GREY}, colours
        if len(colours) == 1:
            seen |= colours
    assert set(PAINTED) <= seen


def test_portal_refusing_start_is_a_device_error_with_its_response_code(fresh_desktop):
    bus = fresh_desktop.daemon.env["DBUS_SESSION_BUS_ADDRESS"]
    session = ScreenCastSession("screencast:test", timeout=5.0, bus=bus)
    try:
        session.create()
        session.select_sources()
        # The compositor goes away: xdg-desktop-portal-wlr with it, so the portal fails Start.
        fresh_desktop.kill_compositor()
        with pytest.raises(PortalError, match="refused Start: response 2") as caught:
            session.start_streams()
    finally:
        session.close()
    assert caught.value.response == 2
    assert isinstance(caught.value, DeviceError)
    # The element says the same, naming itself, at once.
    src = parallax.make("screencapturesrc", name="screen", bus=bus)
    pipeline = parallax.Pipeline()
    pipeline.add(src, sink := parallax.make("fakesink"))
    pipeline.link(src, sink)
    started = time.monotonic()
    with pytest.raises(DeviceError, match=r"screen: the portal refused .*response 2") as caught:
        pipeline.set_state(State.PLAYING)
    assert time.monotonic() - started < 2.0
    assert caught.value.response == 2


def test_no_session_bus_is_a_device_error_at_once(tmp_path):
    src = parallax.make("screencapturesrc", bus=f"unix:path={tmp_path}/no-bus")
    started = time.monotonic()
    with pytest.raises(PortalError, match="no D-Bus session bus") as caught:
        src.open()
    assert time.monotonic() - started < 2.0
    assert caught.value.response is None
    src.close()
