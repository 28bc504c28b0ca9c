"""Seed task 4.1: every transform in FACTORIES keeps the metadata of what it is given.

One test runs each transform between an appsrc and an appsink on buffers whose metadata is
all set (jittered PTS, DTS, duration, offsets, sequence, flags, capture time in its domain).
A 1:1 transform must hand on equal metadata; an encoder must map every packet back to the
frame it came from (h264enc) or to the exact sample position it starts at (aacenc). A new
transform without an entry in SPECS fails the test, so none escapes the audit.
"""

import numpy as np
import pytest

import parallax
from parallax import SECOND, Buffer, BufferFlags, Metadata, State
from parallax.elements import FACTORIES, element_class
from parallax.pipeline import Transform
from parallax.time import CaptureTime, ClockDomain, sample_time

VIDEO_CAPS = "video/x-raw,format=RGB,width=16,height=8,framerate=30/1"
AUDIO_CAPS = "audio/x-raw,format=S16LE,rate=48000,channels=2"
AUDIO_BUFFER = 480  # samples


def video_buffers(count=12):
    rng = np.random.default_rng(5)
    buffers = []
    for n in range(count):
        meta = Metadata(
            pts=SECOND + n * 33_333_333 + n % 3 * 1_234,
            dts=None,
            duration=33_333_333,
            offset=n,
            offset_end=n + 1,
            sequence=500 + n,
            flags=BufferFlags.DISCONT if n == 4 else BufferFlags.NONE,
            capture=CaptureTime(ClockDomain.MONOTONIC, 7 * SECOND + n * 33_333_401),
        )
        data = rng.integers(0, 256, (8, 16, 3), dtype=np.uint8)
        buffers.append(Buffer(data, meta))
    return buffers


def audio_buffers(count=12):
    rng = np.random.default_rng(6)
    buffers = []
    for n in range(count):
        meta = Metadata(
            pts=SECOND + n * 10_000_000 + int(rng.integers(-50_000, 50_000)),
            duration=10_000_000,
            offset=1000 + n * AUDIO_BUFFER,
            offset_end=1000 + (n + 1) * AUDIO_BUFFER,
            sequence=900 + n,
            flags=BufferFlags.DISCONT if n == 0 else BufferFlags.NONE,
            capture=CaptureTime(ClockDomain.DEVICE, 3 * SECOND + n * 10_000_021),
        )
        data = rng.integers(-3000, 3000, (AUDIO_BUFFER, 2), dtype=np.int16)
        buffers.append(Buffer(data, meta))
    return buffers


def same_metadata(inputs, outputs):
    assert [b.meta for b in outputs] == [b.meta for b in inputs]


def frame_metadata_by_pts(inputs, outputs):
    """An encoder's packets: each keeps the metadata of its frame; DTS added."""
    assert len(outputs) == len(inputs)
    by_pts = {b.pts: b.meta for b in inputs}
    for packet in outputs:
        source = by_pts[packet.pts]
        assert packet.dts is not None and packet.dts <= packet.pts
        for field in ("duration", "offset", "offset_end", "sequence", "capture"):
            assert getattr(packet.meta, field) == getattr(source, field), field
        assert packet.flags & BufferFlags.DISCONT == source.flags & BufferFlags.DISCONT


def sample_interpolated(inputs, outputs):
    """aacenc: frame k starts at sample 1024k; its PTS, capture and offset are those of the
    input buffer holding that sample, moved by the sample offset (exact integer ns)."""
    frames = outputs[1:]  # outputs[0] is the encoder's priming packet
    total = len(inputs) * AUDIO_BUFFER
    assert len(frames) == -(-total // 1024)
    for k, frame in enumerate(frames):
        start = 1024 * k
        source = inputs[start // AUDIO_BUFFER].meta
        into = start % AUDIO_BUFFER
        assert frame.pts == source.pts + sample_time(into, 48000)
        assert frame.dts == frame.pts
        assert frame.offset == source.offset + into
        assert frame.capture == CaptureTime(
            source.capture.domain, source.capture.ns + into * SECOND // 48000
        )
    priming = outputs[0]
    assert priming.pts == frames[0].pts - sample_time(1024, 48000)


def resampled_on_one_grid(inputs, outputs):
    """audioresample (48 -> 44.1 kHz): output sample k is at the first input's PTS plus
    k / 44100 s exactly, so the buffers tile; the input's DISCONT starts the output; about
    as many seconds come out as went in (the filter holds back a few samples)."""
    t0, first = outputs[0].pts, outputs[0].offset
    assert t0 == inputs[0].pts
    assert outputs[0].flags & BufferFlags.DISCONT
    for buffer in outputs:
        assert buffer.pts == t0 + sample_time(buffer.offset - first, 44100)
        assert buffer.pts + buffer.duration == t0 + sample_time(buffer.offset_end - first, 44100)
        assert buffer.data.shape[0] == buffer.offset_end - buffer.offset
    samples_in = len(inputs) * AUDIO_BUFFER
    samples_out = outputs[-1].offset_end - first
    assert abs(samples_out - samples_in * 44100 / 48000) <= 64


# factory -> (input caps, buffers, element properties, caps forced after it, check)
SPECS = {
    "identity": (VIDEO_CAPS, video_buffers, {}, None, same_metadata),
    "queue": (VIDEO_CAPS, video_buffers, {}, None, same_metadata),
    "timestampdebug": (VIDEO_CAPS, video_buffers, {"silent": True}, None, same_metadata),
    "capsfilter": (VIDEO_CAPS, video_buffers, {"caps": VIDEO_CAPS}, None, same_metadata),
    "videoconvert": (VIDEO_CAPS, video_buffers, {}, "video/x-raw,format=I420", same_metadata),
    "audioconvert": (AUDIO_CAPS, audio_buffers, {}, "audio/x-raw,format=F32LE,channels=1",
                     same_metadata),
    "h264enc": (VIDEO_CAPS.replace("RGB", "I420"), video_buffers, {"bframes": 2}, None,
                frame_metadata_by_pts),
    "aacenc": (AUDIO_CAPS, audio_buffers, {}, None, sample_interpolated),
    "audioresample": (AUDIO_CAPS, audio_buffers, {"drift-compensation": False},
                      "audio/x-raw,rate=44100", resampled_on_one_grid),
}  # fmt: skip

TRANSFORMS = sorted(name for name in FACTORIES if issubclass(element_class(name), Transform))


def test_every_transform_is_audited():
    assert sorted(SPECS) == TRANSFORMS


@pytest.mark.parametrize("factory", TRANSFORMS)
def test_transform_keeps_metadata(factory):
    caps, make_buffers, properties, forced, check = SPECS[factory]
    inputs = make_buffers()
    if factory == "h264enc":  # I420 frames of the same size
        for buffer in inputs:
            buffer.data = np.full((12, 16), 100 + buffer.offset, np.uint8)
    after = f"! {forced} " if forced else ""
    pipeline = parallax.parse_launch(
        f"appsrc name=src max-buffers=0 caps={caps} ! {factory} name=under_test "
        f"{after}! appsink name=out"
    )
    for key, value in properties.items():
        pipeline.get("under_test").set_property(key, value)
    src = pipeline.get("src")
    for buffer in inputs:
        src.push(Buffer(buffer.data, buffer.meta.copy()))
    src.end_of_stream()
    pipeline.set_state(State.PLAYING)
    try:
        outputs = list(pipeline.get("out"))
    finally:
        pipeline.set_state(State.NULL)
    check(inputs, outputs)
