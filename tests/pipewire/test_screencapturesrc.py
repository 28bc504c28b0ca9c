"""screencapturesrc through the ScreenCast portal on a headless sway (tests/pipewire/conftest.py).

The screen is repainted with solid colours while capturing: the compositor's screencopy is
damage driven, so the frames come when the screen changes, each stamped with the compositor's
capture time (``spa_meta_header.pts``, CLOCK_MONOTONIC).
"""

import threading
import time

import av
import numpy as np
import pytest

import parallax
from parallax import DeviceError, MessageType, State
from parallax.elements.device.screencast_portal import PortalError, ScreenCastSession
from parallax.testing.screencast import HEIGHT, WIDTH
from parallax.time import SECOND, ClockDomain

pytestmark = pytest.mark.pipewire

PAINTED = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
# sway's own clear colour (0.25 grey) shows for a moment while one swaybg replaces another.
SWAY_GREY = (63, 63, 63)


class Painter(threading.Thread):
    """Cycles the screen through PAINTED every ``interval`` s until stopped.

    ``times`` holds the CLOCK_MONOTONIC ns at which each paint was asked for.
    """

    def __init__(self, desktop, interval=0.15):
        super().__init__(name="painter")
        self.desktop = desktop
        self.interval = interval
        self.done = threading.Event()
        self.times = []

    def run(self):
        step = 0
        while not self.done.wait(self.interval if step else 0):
            self.times.append(time.monotonic_ns())
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


def nearest_colour(rgb_pixel):
    """The painted colour (or sway's grey, or black) nearest to a decoded pixel."""
    palette = [*PAINTED, SWAY_GREY, (0, 0, 0)]
    distances = [sum((int(a) - b) ** 2 for a, b in zip(rgb_pixel, c, strict=True)) for c in palette]
    return palette[int(np.argmin(distances))]


@pytest.mark.slow
def test_screen_recorded_to_mp4_plays_at_the_speed_it_was_painted(screencast_desktop, tmp_path):
    """Colour changes land in the file as far apart as they were painted (within 5 %)."""
    path = tmp_path / "screen.mp4"
    bus = screencast_desktop.daemon.env["DBUS_SESSION_BUS_ADDRESS"]
    screencast_desktop.paint((0, 0, 0))
    pipeline = parallax.parse_launch(
        f"screencapturesrc bus={bus} ! videoconvert ! h264enc preset=ultrafast ! "
        f"mp4mux location={path}"
    )
    painter = Painter(screencast_desktop, interval=0.4)
    try:
        pipeline.set_state(State.PLAYING)  # the portal session is up when this returns
        with painter:
            time.sleep(5.0)
        time.sleep(0.3)  # the last colour reaches the file
        pipeline.send_eos()
        message = pipeline.bus.pop(20.0, types={MessageType.EOS, MessageType.ERROR})
        assert message is not None and message.type is MessageType.EOS, message
    finally:
        pipeline.set_state(State.NULL)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [
            (int(frame.pts * stream.time_base * SECOND), frame.to_ndarray(format="rgb24"))
            for frame in container.decode(stream)
        ]
    # When each painted colour first filled the screen, in file time.
    changes, shown = [], None
    for pts, image in frames:
        colour = nearest_colour(image[HEIGHT // 2, WIDTH // 2])
        if colour in PAINTED and colour != shown:
            changes.append((pts, colour))
            shown = colour
    painted = [PAINTED[k % len(PAINTED)] for k in range(len(painter.times))]
    assert [colour for _, colour in changes] == painted  # every paint, in order
    file_span = changes[-1][0] - changes[0][0]
    paint_span = painter.times[-1] - painter.times[0]
    assert paint_span > 4 * SECOND
    assert abs(file_span - paint_span) * 20 <= paint_span, (file_span, paint_span)


def test_persistent_session_gives_a_restore_token_that_restores(screencast_desktop):
    bus = screencast_desktop.daemon.env["DBUS_SESSION_BUS_ADDRESS"]
    first = parallax.make("screencapturesrc", bus=bus, persist="persistent")
    first.open()
    token = first.restore_token
    first.close()
    assert token, "the portal gave no restore token"
    again = parallax.make("screencapturesrc", bus=bus, persist="persistent", restore_token=token)
    again.open()
    try:
        assert again.target.isdigit()  # the portal's node, found over the portal's fd
    finally:
        again.close()
    assert again.restore_token == token  # a persistent grant keeps its token


def test_unknown_source_type_is_refused_before_the_portal():
    with pytest.raises(ValueError, match="source-type='printer': expected one of monitor"):
        parallax.make("screencapturesrc", source_type="printer")
