"""videoconvert and audioconvert: the pixels and samples are right, and passthrough is free."""

from fractions import Fraction

import numpy as np
import pytest

import parallax
from parallax import SECOND, State
from parallax.caps import VideoFormat
from parallax.elements.transform.frames import (
    AV_PIXEL_FORMATS,
    array_from_frame,
    array_shape,
    frame_from_array,
)
from parallax.errors import NegotiationError

W, H = 16, 8
FORMATS = ["RGB", "BGR", "RGBx", "BGRx", "GRAY8", "YUY2", "UYVY", "I420", "NV12"]
# BT.601 limited range of pure colours: (R, G, B) -> (Y, U, V)
COLOURS = {(255, 255, 255): (235, 128, 128), (0, 0, 0): (16, 128, 128),
           (255, 0, 0): (81, 90, 240), (0, 0, 255): (41, 240, 110)}  # fmt: skip


def convert(frames, source, target, width=W, height=H, threads=1):
    pipeline = parallax.parse_launch(
        f"appsrc name=src max-buffers=0 caps=video/x-raw,format={source},width={width},"
        f"height={height},framerate=30/1 ! videoconvert name=convert n-threads={threads} ! "
        f"video/x-raw,format={target} ! appsink name=out"
    )
    src = pipeline.get("src")
    for n, frame in enumerate(frames):
        src.push(frame, pts=n * SECOND // 30)
    src.end_of_stream()
    pipeline.set_state(State.PLAYING)
    try:
        return [b.data for b in pipeline.get("out")]
    finally:
        pipeline.set_state(State.NULL)


def solid_rgb(rgb):
    return np.broadcast_to(np.array(rgb, np.uint8), (H, W, 3)).copy()


@pytest.mark.parametrize("rgb", list(COLOURS))
def test_rgb_to_yuv_formats_gives_bt601_values_in_each_layout(rgb):
    y, u, v = COLOURS[rgb]
    (i420,) = convert([solid_rgb(rgb)], "RGB", "I420")
    assert i420.shape == (H * 3 // 2, W)
    flat = i420.reshape(-1)
    q = W * H // 4
    assert np.abs(flat[: W * H].astype(int) - y).max() <= 1
    assert np.abs(flat[W * H : W * H + q].astype(int) - u).max() <= 1
    assert np.abs(flat[W * H + q :].astype(int) - v).max() <= 1
    (nv12,) = convert([solid_rgb(rgb)], "RGB", "NV12")
    uv = nv12.reshape(-1)[W * H :].reshape(H // 2, W // 2, 2)
    assert np.abs(uv[..., 0].astype(int) - u).max() <= 1
    assert np.abs(uv[..., 1].astype(int) - v).max() <= 1
    (yuy2,) = convert([solid_rgb(rgb)], "RGB", "YUY2")
    (uyvy,) = convert([solid_rgb(rgb)], "RGB", "UYVY")
    assert yuy2.shape == uyvy.shape == (H, W, 2)
    assert np.abs(yuy2[..., 0].astype(int) - y).max() <= 1  # Y0 U Y1 V
    assert np.abs(yuy2[:, 0::2, 1].astype(int) - u).max() <= 1
    assert np.abs(uyvy[..., 1].astype(int) - y).max() <= 1  # U Y0 V Y1
    assert np.abs(uyvy[:, 1::2, 0].astype(int) - v).max() <= 1


@pytest.mark.parametrize("target", FORMATS)
def test_round_trip_through_every_format_keeps_the_picture(target):
    rng = np.random.default_rng(1)
    # smooth picture (chroma subsampling loses detail, not level): 2x2 blocks of one colour
    blocks = rng.integers(30, 220, (H // 2, W // 2, 3), dtype=np.uint8)
    picture = np.repeat(np.repeat(blocks, 2, axis=0), 2, axis=1)
    if target == "GRAY8":
        picture[:] = picture[..., :1]  # grey pictures survive grey
    (middle,) = convert([picture], "RGB", target)
    (back,) = convert([middle], target, "RGB")
    assert back.shape == picture.shape
    error = np.abs(back.astype(int) - picture.astype(int))
    if target in ("RGB", "BGR", "RGBx", "BGRx"):
        assert error.max() == 0
    else:
        assert error.max() <= 4


def test_bgr_and_bgrx_byte_order():
    (bgr,) = convert([solid_rgb((10, 20, 30))], "RGB", "BGR")
    (bgrx,) = convert([solid_rgb((10, 20, 30))], "RGB", "BGRx")
    assert bgr[0, 0].tolist() == [30, 20, 10]
    assert bgrx[0, 0, :3].tolist() == [30, 20, 10]


def test_same_format_passes_the_same_buffer_through():
    pipeline = parallax.parse_launch(
        "appsrc name=src caps=video/x-raw,format=RGB,width=4,height=2,framerate=30/1 ! "
        "videoconvert ! appsink name=out"
    )
    frame = np.zeros((2, 4, 3), np.uint8)
    pipeline.get("src").push(frame, pts=0)
    pipeline.get("src").end_of_stream()
    pipeline.set_state(State.PLAYING)
    (out,) = list(pipeline.get("out"))
    pipeline.set_state(State.NULL)
    assert out.data is frame


def test_odd_size_to_420_is_refused_at_negotiation():
    pipeline = parallax.parse_launch(
        "appsrc caps=video/x-raw,format=RGB,width=15,height=8,framerate=30/1 ! videoconvert ! "
        "video/x-raw,format=I420 ! fakesink"
    )
    with pytest.raises(NegotiationError, match="I420 needs a width divisible by 2"):
        pipeline.set_state(State.PAUSED)


def test_frames_with_row_padding_copy_only_the_picture():
    fmt = VideoFormat(18, 6, "UYVY", Fraction(30))  # FFmpeg pads rows of 36 bytes to 64
    data = np.arange(np.prod(array_shape(fmt)), dtype=np.uint8).reshape(array_shape(fmt))
    frame = frame_from_array(data, fmt)
    assert frame.planes[0].line_size > 36
    assert np.array_equal(array_from_frame(frame, fmt), data)


@pytest.mark.parametrize("height", [6, 8])
@pytest.mark.parametrize("pixel_format", ["RGB", "BGR", "RGBx", "BGRx", "GRAY8", "I420", "NV12"])
def test_contiguous_frames_are_read_in_place_with_the_right_size(pixel_format, height):
    fmt = VideoFormat(16, height, pixel_format, Fraction(30))
    data = np.arange(np.prod(array_shape(fmt)), dtype=np.uint8).reshape(array_shape(fmt))
    frame = frame_from_array(data, fmt)
    assert frame.format.name == AV_PIXEL_FORMATS[pixel_format]
    assert (frame.width, frame.height) == (16, height)
    assert np.array_equal(array_from_frame(frame, fmt), data)
    data[0, 0] = 255 - data[0, 0]
    wrapped = fmt.pixel_format not in ("I420", "NV12") or height % 4 == 0
    assert np.array_equal(array_from_frame(frame, fmt), data) == wrapped  # read in place
    # a strided view (every other row) cannot be wrapped: it is copied, picture intact
    tall = np.repeat(data, 2, axis=0)[::2]
    assert not tall.flags.c_contiguous
    assert np.array_equal(array_from_frame(frame_from_array(tall, fmt), fmt), data)


@pytest.mark.parametrize("threads", [0, 2])
def test_scaling_threads_change_nothing_in_the_pixels(threads):
    """One swscale context serves the whole stream, whatever its thread count: every frame
    of a changing sequence converts as a single-threaded conversion does."""
    rng = np.random.default_rng(threads)
    frames = [rng.integers(0, 256, (64, 96, 3), np.uint8) for _ in range(5)]
    expected = convert(frames, "RGB", "I420", 96, 64)
    got = convert(frames, "RGB", "I420", 96, 64, threads=threads)
    assert len(got) == 5 and all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
    assert not np.array_equal(got[0], got[1])


def test_wrong_array_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"I420 4x2 frame is a uint8 array of shape \(3, 4\)"):
        frame_from_array(np.zeros((2, 4), np.uint8), VideoFormat(4, 2, "I420"))


def audio_convert(samples, source, target):
    channels = samples.shape[1]
    pipeline = parallax.parse_launch(
        f"appsrc name=src caps=audio/x-raw,format={source},rate=48000,channels={channels} ! "
        f"audioconvert ! {target} ! appsink name=out"
    )
    pipeline.get("src").push(samples, pts=123, duration=456)
    pipeline.get("src").end_of_stream()
    pipeline.set_state(State.PLAYING)
    (out,) = list(pipeline.get("out"))
    pipeline.set_state(State.NULL)
    assert (out.pts, out.duration) == (123, 456)
    return out.data


def test_audio_s16_to_f32_and_back_is_exact():
    s16 = np.array([[-32768, 32767], [0, 1], [-1, 16384]], np.int16)
    f32 = audio_convert(s16, "S16LE", "audio/x-raw,format=F32LE")
    assert f32.dtype == np.float32
    assert f32.tolist() == [[-1.0, 32767 / 32768], [0.0, 1 / 32768], [-1 / 32768, 0.5]]
    back = audio_convert(f32, "F32LE", "audio/x-raw,format=S16LE")
    assert np.array_equal(back, s16)


def test_audio_float_to_int_clips():
    f32 = np.array([[1.5, -2.0]], np.float32)
    assert audio_convert(f32, "F32LE", "audio/x-raw,format=S16LE").tolist() == [[32767, -32768]]


def test_audio_s16_to_s32_keeps_full_scale():
    s16 = np.array([[-32768, 12345]], np.int16)
    s32 = audio_convert(s16, "S16LE", "audio/x-raw,format=S32LE")
    assert s32.tolist() == [[-(2**31), 12345 << 16]]


def test_audio_channels_mix_down_and_up():
    stereo = np.array([[100, 300], [-5, -6]], np.int16)
    mono = audio_convert(stereo, "S16LE", "audio/x-raw,channels=1")
    assert mono.tolist() == [[200], [-6]]  # mean, rounded half to even
    up = audio_convert(np.array([[7], [8]], np.int16), "S16LE", "audio/x-raw,channels=2")
    assert up.tolist() == [[7, 7], [8, 8]]
