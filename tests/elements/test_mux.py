"""Acceptance of mp4mux / mpegtsmux: the file's times are the buffers' times.

Every file is read back twice: with Debian's ffprobe and with PyAV's demuxer.
"""

import itertools
from fractions import Fraction

import av
import numpy as np
import pytest

import parallax
from parallax import SECOND, Buffer, MessageType, Metadata
from parallax.errors import PipelineError, TimestampError
from parallax.time import sample_time

FPS = 30
RATE = 48000
WIDTH, HEIGHT = 64, 48
TICK_90K = Fraction(SECOND, 90_000)
SAMPLE = Fraction(SECOND, RATE)
PRIMING = 1024  # AAC encoder delay, samples


def jittered_video_pts(start, count, seed=7, drop=75):
    """Frame PTS at 30/1 from ``start`` ns, each moved by up to +-3 ms, one frame dropped."""
    rng = np.random.default_rng(seed)
    jitter = rng.integers(-3_000_000, 3_000_001, count + 1)
    pts = [start + n * SECOND // FPS + int(jitter[n]) for n in range(count + 1)]
    del pts[drop]
    return pts


def video_frame(n):
    """An I420 frame whose content changes every frame (so each one costs bits)."""
    frame = np.full((HEIGHT * 3 // 2, WIDTH), 128, np.uint8)
    frame[:HEIGHT, :] = (np.arange(WIDTH)[None, :] * 4 + n * 8) % 220 + 16
    return frame


def record(location, mux, video_pts, audio_start, audio_buffers=None, video_props=None,
           audio_props=None):  # fmt: skip
    """appsrc ! h264enc ! mux  and  appsrc ! aacenc ! mux, fed known times; returns the
    pipeline after EOS (elements reachable by name)."""
    pipeline = parallax.parse_launch(
        f"appsrc name=vsrc max-buffers=0 caps=video/x-raw,format=I420,width={WIDTH},"
        f"height={HEIGHT},framerate={FPS}/1 ! h264enc name=venc preset=ultrafast ! mux. "
        f"appsrc name=asrc max-buffers=0 caps=audio/x-raw,format=S16LE,rate={RATE},channels=2 "
        f"! aacenc name=aenc ! mux. {mux} name=mux location={location}"
    )
    for key, value in (video_props or {}).items():
        pipeline.get("venc").set_property(key, value)
    for key, value in (audio_props or {}).items():
        pipeline.get("aenc").set_property(key, value)
    vsrc, asrc = pipeline.get("vsrc"), pipeline.get("asrc")
    for n, pts in enumerate(video_pts):
        vsrc.push(video_frame(n), pts=pts, duration=SECOND // FPS)
    vsrc.end_of_stream()
    if audio_buffers is None:  # 5 s of 480-sample buffers, stamped from the sample position
        audio_buffers = [(audio_start + sample_time(k * 480, RATE), 480) for k in range(500)]
    t = np.arange(480)
    for pts, count in audio_buffers:
        tone = (3000 * np.sin(2 * np.pi * 440 * t[:count] / RATE)).astype(np.int16)
        asrc.push(np.repeat(tone[:, None], 2, axis=1), pts=pts)
    asrc.end_of_stream()
    pipeline.run(timeout=60)
    return pipeline


def pyav_times(path, kind):
    """(packet PTS in Fraction ns, stream start in Fraction ns) with PyAV's demuxer."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        base = stream.time_base * SECOND
        pts = [p.pts * base for p in container.demux(stream) if p.pts is not None]
        return pts, stream.start_time * base


@pytest.mark.parametrize(("bframes", "threads"), [(0, 0), (2, 0), (2, 1)])
def test_mp4_video_pts_are_the_input_pts_exactly(tmp_path, probe, bframes, threads):
    video_pts = jittered_video_pts(2 * SECOND, 150)
    audio_start = 2 * SECOND + 12_345_678
    path = tmp_path / "a.mp4"
    video_props = {"bframes": bframes, "threads": threads}
    pipeline = record(path, "mp4mux", video_pts, audio_start, video_props=video_props)
    assert pipeline.get("mux").stats["sink_0"].packets == 150

    file = probe(path)
    assert sorted(file.packet_times("video")) == video_pts  # exact to the ns
    if bframes:  # reordered: some DTS precede their PTS, and DTS still increase
        dts = file.packet_times("video", "dts")
        assert dts == sorted(dts) and dts[0] < video_pts[0]
    demuxed, video_start = pyav_times(path, "video")
    assert sorted(demuxed) == video_pts
    assert video_start == video_pts[0] == file.start("video")

    # Audio: the first real sample is at audio_start (to the sample; the time base is 1/rate),
    # after the 1024-sample priming packet the encoder puts before it.
    audio_pts = file.packet_times("audio")
    assert abs(audio_pts[1] - audio_start) < SAMPLE
    assert audio_pts[1] - audio_pts[0] == PRIMING * SAMPLE
    # A/V start offset in the file = input offset, within one audio sample
    offset_in_file = (file.start("audio") + PRIMING * SAMPLE) - file.start("video")
    assert abs(offset_in_file - (audio_start - video_pts[0])) < SAMPLE
    demuxed_audio, audio_file_start = pyav_times(path, "audio")
    assert abs(audio_file_start + PRIMING * SAMPLE - audio_start) < SAMPLE
    assert demuxed_audio[:5] == audio_pts[:5]


def test_mpegts_video_pts_within_one_90khz_tick(tmp_path, probe):
    video_pts = jittered_video_pts(2 * SECOND, 150)
    audio_start = 2 * SECOND + 12_345_678
    path = tmp_path / "a.ts"
    record(path, "mpegtsmux", video_pts, audio_start)

    file = probe(path)
    assert file.time_base("video") == Fraction(1, 90_000)
    written = sorted(file.packet_times("video"))
    assert len(written) == 150
    assert all(abs(w - p) <= TICK_90K for w, p in zip(written, video_pts, strict=True))
    demuxed, _ = pyav_times(path, "video")
    assert sorted(demuxed) == written
    audio_pts = file.packet_times("audio")
    assert abs(audio_pts[1] - audio_start) <= TICK_90K
    offset_in_file = (file.start("audio") + PRIMING * SAMPLE) - file.start("video")
    assert abs(offset_in_file - (audio_start - video_pts[0])) < SAMPLE + TICK_90K


@pytest.mark.parametrize("mux", ["mp4mux", "mpegtsmux"])
def test_av_started_12_3_ms_apart_stay_12_3_ms_apart(tmp_path, probe, mux):
    video_start = SECOND
    audio_start = video_start + 12_300_000
    video_pts = [video_start + n * SECOND // FPS for n in range(90)]
    path = tmp_path / f"sync.{mux[:-3]}"
    record(path, mux, video_pts, audio_start)
    file = probe(path)
    offset = (file.start("audio") + PRIMING * SAMPLE) - file.start("video")
    tolerance = SAMPLE if mux == "mp4mux" else SAMPLE + TICK_90K
    assert abs(offset - 12_300_000) <= tolerance
    # and it stays so: the last audio packet is where 5 s of samples put it
    audio_pts = file.packet_times("audio")
    last_frame = (5 * RATE - 1) // 1024 * 1024
    assert abs(audio_pts[-1] - (audio_start + last_frame * SAMPLE)) <= tolerance


def test_audio_pts_are_interpolated_from_jittered_input_buffers(tmp_path, probe):
    # 960-sample buffers whose capture times wander by +-1 ms: each AAC frame takes its
    # PTS from the buffer it starts in, plus its sample offset in that buffer.
    rng = np.random.default_rng(3)
    buffers = [
        (SECOND + k * 20_000_000 + int(rng.integers(-1_000_000, 1_000_001)), 480)
        for k in range(300)
    ]
    video_pts = [SECOND + n * SECOND // FPS for n in range(30)]
    path = tmp_path / "jitter.mp4"
    record(path, "mp4mux", video_pts, None, audio_buffers=buffers)
    expected = []
    for frame in range(300 * 480 // 1024):
        start = frame * 1024
        pts, _ = buffers[start // 480]
        expected.append(pts + sample_time(start % 480, RATE))
    written = probe(path).packet_times("audio")[1 : 1 + len(expected)]
    assert all(abs(w - e) < SAMPLE for w, e in zip(written, expected, strict=True))


@pytest.mark.parametrize("mux", ["mp4mux", "mpegtsmux"])
@pytest.mark.parametrize("problem", ["duplicate", "backward"])
def test_strict_policy_raises_timestamp_error_naming_the_buffer(tmp_path, mux, problem):
    pts = [SECOND + n * SECOND // FPS for n in range(20)]
    pts[10] = pts[9] if problem == "duplicate" else pts[9] - 5_000_000
    with pytest.raises(PipelineError, match="venc") as raised:
        record(tmp_path / "bad", mux, pts, SECOND)
    cause = raised.value.__cause__
    assert isinstance(cause, TimestampError)
    assert "buffer #10" in str(cause) and "timestamp-policy=repair" in str(cause)


@pytest.mark.parametrize("mux", ["mp4mux", "mpegtsmux"])
def test_repair_policy_writes_a_valid_file_and_counts_repairs(tmp_path, probe, mux):
    pts = [SECOND + n * SECOND // FPS for n in range(30)]
    pts[10] = pts[9]  # duplicate
    pts[20] = pts[19] - 5_000_000  # backward
    path = tmp_path / f"repaired.{mux[:-3]}"
    pipeline = record(path, mux, pts, SECOND, video_props={"timestamp-policy": "repair"})
    encoder = pipeline.get("venc")
    assert encoder.repairs == 2
    warnings = [m for m in pipeline.bus.messages(MessageType.WARNING) if m.source == "venc"]
    assert [m.data["repairs"] for m in warnings] == [1, 2]
    written = sorted(probe(path).packet_times("video"))
    assert len(written) == 30  # nothing dropped
    assert all(b > a for a, b in itertools.pairwise(written))
    with av.open(str(path)) as container:  # every frame decodes
        assert sum(1 for _ in container.decode(video=0)) == 30


@pytest.mark.parametrize("mux", ["mp4mux", "mpegtsmux"])
def test_disk_full_fails_the_muxer_without_hanging(mux):
    with pytest.raises(PipelineError, match="mux") as raised:
        record("/dev/full", mux, [SECOND + n * SECOND // FPS for n in range(150)], SECOND)
    assert raised.value.element == "mux"
    assert "No space left" in str(raised.value)


def test_disk_full_fails_filesink_without_hanging():
    pipeline = parallax.parse_launch(
        "videotestsrc num-buffers=100 ! filesink name=out location=/dev/full"
    )
    with pytest.raises(PipelineError, match="out") as raised:
        pipeline.run(timeout=30)
    assert raised.value.element == "out"
    assert isinstance(raised.value.__cause__, OSError)


def test_filesink_writes_every_byte(tmp_path):
    pipeline = parallax.parse_launch(
        "videotestsrc num-buffers=5 ! video/x-raw,format=RGB,width=8,height=4 ! "
        f"filesink name=out location={tmp_path / 'raw.rgb'}"
    )
    pipeline.run(timeout=30)
    data = (tmp_path / "raw.rgb").read_bytes()
    assert len(data) == 5 * 8 * 4 * 3


def test_muxer_without_location_is_a_clear_error():
    pipeline = parallax.parse_launch("videotestsrc num-buffers=1 ! videoconvert ! h264enc ! mp4mux")
    with pytest.raises(PipelineError, match="location"):
        pipeline.run(timeout=10)


def test_metadata_reaches_encoded_buffers():
    pipeline = parallax.parse_launch(
        f"appsrc name=src caps=video/x-raw,format=I420,width={WIDTH},height={HEIGHT},"
        f"framerate=30/1 ! h264enc bframes=2 key-int-max=10 ! appsink name=out"
    )
    src = pipeline.get("src")
    for n in range(25):
        meta = Metadata(pts=SECOND + n * 33_000_000, duration=33_000_000, sequence=100 + n)
        src.push(Buffer(video_frame(n), meta))
    src.end_of_stream()
    pipeline.set_state(parallax.State.PLAYING)
    out = list(pipeline.get("out"))
    pipeline.set_state(parallax.State.NULL)
    by_pts = {b.pts: b for b in out}
    assert sorted(by_pts) == [SECOND + n * 33_000_000 for n in range(25)]
    assert all(by_pts[SECOND + n * 33_000_000].sequence == 100 + n for n in range(25))
    keyframes = sorted(
        (b.pts - SECOND) // 33_000_000 for b in out if not b.flags & parallax.BufferFlags.DELTA_UNIT
    )
    assert keyframes[0] == 0 and len(keyframes) < 25  # DELTA_UNIT on the others
    assert all(b - a <= 10 for a, b in zip(keyframes, [*keyframes[1:], 25], strict=True))
    dts = [b.dts for b in out]
    assert dts == sorted(dts) and all(b.dts <= b.pts for b in out)
    assert any(b.dts < b.pts for b in out)  # B-frames reorder
