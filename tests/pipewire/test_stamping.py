"""pipewiresrc's timestamp logic on made-up PipeWire frames (no daemon): exact integer checks."""

from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

import parallax
from parallax import AudioFormat, BufferFlags, VideoFormat
from parallax._ext import pipewire as pw
from parallax.elements.device.pipewiresrc import _AudioStamper, _VideoStamper
from parallax.errors import TimestampError
from parallax.time import MSECOND, SECOND, ClockDomain, sample_time

BASE = 1_000 * SECOND  # base time of the pretend pipeline (SystemClock: MONOTONIC identity)


def to_running_time(capture):
    assert capture.domain is ClockDomain.MONOTONIC
    return capture.ns - BASE


def video_frame(seq, pts, header=True, flags=0, dropped=0, arrival=0):
    return SimpleNamespace(
        has_header=header, pts=pts, seq=seq, header_flags=flags, chunk_flags=0,
        dropped=dropped, process_ns=arrival,
    )  # fmt: skip


def audio_frame(now, ticks, samples, delay=0, dropped=0, rate=48000, arrival=0):
    return SimpleNamespace(
        data=np.zeros(samples * 8, np.uint8), now=now, ticks=ticks, delay=delay,
        rate_num=1, rate_denom=rate, dropped=dropped, process_ns=arrival,
    )  # fmt: skip


@pytest.fixture
def element():
    src = parallax.make("pipewiresrc", target="cam")
    src.warnings = []
    src.post_warning = src.warnings.append
    return src


def test_video_pts_is_header_pts_minus_base_and_seq_gaps_are_discont(element):
    stamper = _VideoStamper(VideoFormat(320, 240, "RGB", Fraction(25)), "auto")
    start = BASE + 5 * MSECOND
    metas = [
        stamper.stamp(video_frame(seq, start + 40 * MSECOND * (seq - 7)), to_running_time, element)
        for seq in (7, 8, 9, 12, 13)
    ]
    assert [m.pts for m in metas] == [5 * MSECOND + 40 * MSECOND * k for k in (0, 1, 2, 5, 6)]
    assert [m.capture.ns - BASE for m in metas] == [m.pts for m in metas]
    assert [bool(m.flags & BufferFlags.DISCONT) for m in metas] == [0, 0, 0, 1, 0]
    assert [m.offset for m in metas] == [0, 1, 2, 5, 6]
    assert [m.sequence for m in metas] == [7, 8, 9, 12, 13]
    assert all(m.duration == 40 * MSECOND for m in metas)
    assert element.lost == 2


def test_video_header_flags_and_drops_here_carry_over(element):
    stamper = _VideoStamper(VideoFormat(8, 8, "RGB", Fraction(0)), "auto")
    flagged = stamper.stamp(
        video_frame(0, BASE, flags=pw.HEADER_FLAG_DISCONT | pw.HEADER_FLAG_CORRUPTED),
        to_running_time,
        element,
    )
    assert flagged.flags == BufferFlags.DISCONT | BufferFlags.CORRUPTED
    assert flagged.duration is None  # variable frame rate
    dropped = stamper.stamp(video_frame(1, BASE + 1, dropped=2), to_running_time, element)
    assert dropped.flags == BufferFlags.DISCONT


def test_video_without_header_uses_arrival_with_one_warning_or_fails_strict(element):
    stamper = _VideoStamper(VideoFormat(8, 8, "RGB", Fraction(30)), "auto")
    metas = [
        stamper.stamp(video_frame(0, 0, header=False, arrival=BASE + n), to_running_time, element)
        for n in (10, 20)
    ]
    assert [m.pts for m in metas] == [10, 20]
    assert metas[0].sequence is None and metas[0].offset is None
    assert len(element.warnings) == 1 and "no spa_meta_header" in element.warnings[0]
    strict = _VideoStamper(VideoFormat(8, 8, "RGB", Fraction(30)), "device")
    with pytest.raises(TimestampError, match="spa_meta_header"):
        strict.stamp(video_frame(0, 0, header=False, arrival=BASE), to_running_time, element)


def test_video_strict_policy_refuses_non_increasing_pts(element):
    stamper = _VideoStamper(VideoFormat(8, 8, "RGB", Fraction(30)), "device")
    stamper.stamp(video_frame(0, BASE + 100), to_running_time, element)
    with pytest.raises(TimestampError, match="not increasing"):
        stamper.stamp(video_frame(1, BASE + 100), to_running_time, element)


def test_video_arrival_policy_ignores_the_header(element):
    stamper = _VideoStamper(VideoFormat(8, 8, "RGB", Fraction(30)), "arrival")
    meta = stamper.stamp(video_frame(0, BASE + 999, arrival=BASE + 5), to_running_time, element)
    assert meta.pts == 5 and meta.sequence == 0


def quantum_ns(n, rate=48000):
    return sample_time(n, rate)


def test_audio_tiles_exactly_on_the_first_buffers_time(element):
    stamper = _AudioStamper(AudioFormat(48000, 2, "F32LE"), "auto", 40 * MSECOND)
    t0 = BASE + 7 * MSECOND
    metas = [
        stamper.stamp(
            audio_frame(t0 + quantum_ns(1024 * k), 5000 + 1024 * k, 1024), to_running_time, element
        )
        for k in range(100)
    ]
    for k, meta in enumerate(metas):
        assert meta.pts == sample_time(1024 * k, 48000, 7 * MSECOND)
        assert meta.pts + meta.duration == sample_time(1024 * (k + 1), 48000, 7 * MSECOND)
        assert (meta.offset, meta.offset_end) == (1024 * k, 1024 * (k + 1))
        assert meta.flags == BufferFlags.NONE
    assert element.lost == 0


def test_audio_delay_moves_the_capture_time_back(element):
    stamper = _AudioStamper(AudioFormat(48000, 2, "F32LE"), "auto", 40 * MSECOND)
    meta = stamper.stamp(audio_frame(BASE + SECOND, 0, 480, delay=480), to_running_time, element)
    assert meta.capture.ns == BASE + SECOND - 10 * MSECOND
    assert meta.pts == SECOND - 10 * MSECOND


def test_audio_missed_cycle_skips_its_samples_and_keeps_the_anchor(element):
    stamper = _AudioStamper(AudioFormat(48000, 2, "F32LE"), "auto", 40 * MSECOND)
    ticks = [0, 1024, 3072, 4096]  # the cycle at 2048 never reached us
    metas = [
        stamper.stamp(audio_frame(BASE + quantum_ns(t), t, 1024), to_running_time, element)
        for t in ticks
    ]
    assert [m.offset for m in metas] == ticks
    assert [m.pts for m in metas] == [quantum_ns(t) for t in ticks]
    assert [bool(m.flags & BufferFlags.DISCONT) for m in metas] == [0, 0, 1, 0]
    assert element.lost == 1024


def test_audio_reanchors_past_the_threshold_only(element):
    stamper = _AudioStamper(AudioFormat(48000, 2, "F32LE"), "auto", 40 * MSECOND)
    first = stamper.stamp(audio_frame(BASE, 0, 1024), to_running_time, element)
    # PipeWire's time runs 30 ms ahead of the samples: within the threshold, keep tiling.
    near = stamper.stamp(audio_frame(BASE + quantum_ns(1024) + 30 * MSECOND, 1024, 1024),
                         to_running_time, element)  # fmt: skip
    assert near.pts == first.pts + first.duration and near.flags == BufferFlags.NONE
    # 50 ms ahead: re-anchor on PipeWire's time, DISCONT.
    far_time = BASE + quantum_ns(2048) + 50 * MSECOND
    far = stamper.stamp(audio_frame(far_time, 2048, 1024), to_running_time, element)
    assert far.pts == far_time - BASE and far.flags == BufferFlags.DISCONT
    after = stamper.stamp(audio_frame(far_time + quantum_ns(1024), 3072, 1024),
                          to_running_time, element)  # fmt: skip
    assert after.pts == far.pts + far.duration and after.flags == BufferFlags.NONE


def test_audio_resampled_stream_counts_ticks_at_the_graph_rate(element):
    # Stream at 44100 Hz, graph at 48000 Hz: 1024 graph ticks -> 940 or 941 stream samples.
    stamper = _AudioStamper(AudioFormat(44100, 2, "F32LE"), "auto", 40 * MSECOND)
    sizes = [940, 941, 941, 940]
    ticks = 0
    for size in sizes:
        meta = stamper.stamp(audio_frame(BASE + quantum_ns(ticks), ticks, size), to_running_time,
                             element)  # fmt: skip
        assert meta.flags == BufferFlags.NONE
        ticks += 1024
    assert element.lost == 0
    ticks += 1024  # a missed cycle
    meta = stamper.stamp(audio_frame(BASE + quantum_ns(ticks), ticks, 940), to_running_time,
                         element)  # fmt: skip
    assert meta.flags == BufferFlags.DISCONT
    assert 938 <= element.lost <= 942


def test_audio_without_pw_time(element):
    auto = _AudioStamper(AudioFormat(48000, 2, "F32LE"), "auto", 40 * MSECOND)
    meta = auto.stamp(audio_frame(0, 0, 1024, arrival=BASE + 3), to_running_time, element)
    assert meta.pts == 3 and len(element.warnings) == 1
    strict = _AudioStamper(AudioFormat(48000, 2, "F32LE"), "device", 40 * MSECOND)
    with pytest.raises(TimestampError, match="no time"):
        strict.stamp(audio_frame(0, 0, 1024, arrival=BASE), to_running_time, element)


def test_video_view_skips_row_padding_without_copying(element):
    element.format = VideoFormat(3, 2, "RGB", Fraction(30))
    data = np.arange(2 * 12, dtype=np.uint8)  # stride 12 > 9 bytes of pixels per row
    image = element._video_data(SimpleNamespace(data=data, stride=12))
    assert image.shape == (2, 3, 3) and np.shares_memory(image, data)
    assert image[1, 0].tolist() == [12, 13, 14] and image[0, 2].tolist() == [6, 7, 8]
    # A producer may leave out the last row's padding: still the same pixels.
    short = element._video_data(SimpleNamespace(data=data[:21], stride=12))
    assert np.array_equal(short, image)


def test_video_view_of_gray_is_2d_and_short_buffers_are_dropped_with_a_warning(element):
    element.format = VideoFormat(4, 2, "GRAY8", Fraction(30))
    data = np.arange(8, dtype=np.uint8)
    assert element._video_data(SimpleNamespace(data=data, stride=4)).shape == (2, 4)
    assert element._video_data(SimpleNamespace(data=data[:7], stride=4)) is None
    assert element.short_buffers == 1 and "less than a frame" in element.warnings[0]
