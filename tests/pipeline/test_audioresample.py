"""audioresample: rate conversion with exact PTS, drift following, restarts, negotiation."""

import numpy as np
import pytest
from test_av_drift import av_offsets_for, run_simulated_capture

import parallax
from parallax import SECOND, Buffer, BufferFlags, ManualClock, Metadata, State
from parallax.caps import AudioFormat
from parallax.errors import NegotiationError
from parallax.time import sample_time


def pull_all(sink, timeout=5.0):
    buffers = []
    while (buffer := sink.pull(timeout=timeout)) is not None:
        buffers.append(buffer)
    return buffers


def run(description: str, clock=None):
    pipeline = parallax.parse_launch(description)
    pipeline.use_clock(clock or ManualClock())
    sink = pipeline.get("out")
    with pipeline:
        pipeline.set_state(State.PLAYING)
        buffers = pull_all(sink)
    return pipeline, buffers


def test_converts_44100_to_48000_with_pts_from_the_output_sample_count():
    pipeline, buffers = run(
        "audiotestsrc num-buffers=100 samplesperbuffer=441 ! audio/x-raw,rate=44100,channels=2 "
        "! audioresample name=r ! audio/x-raw,rate=48000 ! appsink name=out"
    )
    assert pipeline.get("r").out_format == AudioFormat(48000, 2, "S16LE")
    produced = 0
    for buffer in buffers:
        assert buffer.data.dtype == np.int16 and buffer.data.shape[1] == 2
        assert buffer.pts == sample_time(produced, 48000)
        assert buffer.pts + buffer.duration == sample_time(produced + len(buffer.data), 48000)
        assert buffer.offset == produced
        produced += len(buffer.data)
    assert buffers[0].flags & BufferFlags.DISCONT
    assert not any(b.flags & BufferFlags.DISCONT for b in buffers[1:])
    # one second of input -> one second of output (within a sample: the last partial one)
    assert abs(produced - 48000) <= 1


def test_same_rate_without_drift_is_transparent():
    _, buffers = run(
        "audiotestsrc num-buffers=20 samplesperbuffer=960 freq=1000 ! "
        "audio/x-raw,rate=48000,channels=1,format=F32LE ! audioresample ! appsink name=out"
    )
    out = np.concatenate([b.data for b in buffers])[:, 0]
    t = np.arange(len(out)) / 48000
    expected = 0.8 * np.sin(2 * np.pi * 1000 * t)
    assert len(out) == 20 * 960
    assert np.abs(out[100:-100] - expected[100:-100]).max() < 1e-3


def test_downstream_rate_choice_and_bad_caps():
    pipeline = parallax.parse_launch(
        "audiotestsrc num-buffers=1 ! audio/x-raw,rate=32000,channels=1 ! audioresample name=r "
        "! audio/x-raw,rate=16000 ! fakesink"
    )
    with pipeline:
        pipeline.set_state(State.PAUSED)
        assert pipeline.get("r").out_format.rate == 16000
    pipeline = parallax.parse_launch(
        "audiotestsrc num-buffers=1 ! audio/x-raw,channels=1 ! audioresample "
        "! audio/x-raw,channels=2 ! fakesink"
    )
    with pytest.raises(NegotiationError), pipeline:
        pipeline.set_state(State.PAUSED)


def test_follows_a_drifting_card_and_reports_its_ppm():
    _, resampler, audio, video, _ = run_simulated_capture(resample=True, minutes=3)
    offsets = av_offsets_for(audio, video, minutes=3)
    assert np.abs(offsets[3:]).max() < 0.5e6  # ns, after 30 s
    assert resampler.ppm == pytest.approx(80, abs=5)
    assert audio.pts_mismatch == 0


def test_drift_compensation_false_converts_at_the_nominal_ratio():
    _, audio, video, _ = run_simulated_capture(resample=True, minutes=3, compensate=False)[1:]
    offsets = av_offsets_for(audio, video, minutes=3)
    assert offsets[-1] > 10e6  # 80 ppm of 175 s = 14 ms, not corrected


def push_run(
    buffers_in,
    description="appsrc name=src caps=audio/x-raw,format=F32LE,rate=48000,"
    "channels=1 ! audioresample name=r ! appsink name=out",
):
    pipeline = parallax.parse_launch(description)
    pipeline.use_clock(ManualClock())
    src, sink = pipeline.get("src"), pipeline.get("out")
    with pipeline:
        pipeline.set_state(State.PLAYING)
        for buffer in buffers_in:
            src.push(buffer)
        src.end_of_stream()
        out = pull_all(sink)
    return pipeline.get("r"), out


def card_buffer(index, pts, flags=BufferFlags.NONE):
    meta = Metadata(pts=pts, offset=index * 4800, offset_end=(index + 1) * 4800, flags=flags)
    return Buffer(np.zeros((4800, 1), np.float32), meta)


def test_discont_and_sample_loss_restart_the_stream_at_the_new_pts():
    period = 100_000_000
    buffers = [card_buffer(i, i * period) for i in range(10)]
    buffers += [card_buffer(i + 3, (i + 3) * period + 5 * SECOND) for i in range(10, 20)]
    buffers += [card_buffer(30, 40 * SECOND, BufferFlags.DISCONT)]
    resampler, out = push_run(buffers)
    assert resampler.restarts == 2
    disconts = [b.pts for b in out if b.flags & BufferFlags.DISCONT]
    assert disconts[0] == 0 and disconts[1] == 13 * period + 5 * SECOND
    assert disconts[2] == 40 * SECOND
    offsets = [b.offset for b in out]
    assert offsets == sorted(offsets)  # output offsets keep counting across restarts


def test_a_clock_step_in_the_pts_restarts_with_a_warning():
    period = 100_000_000
    buffers = [card_buffer(i, i * period) for i in range(40)]
    buffers += [card_buffer(i, i * period + SECOND) for i in range(40, 60)]  # +1 s step
    resampler, out = push_run(buffers)
    assert resampler.restarts == 1
    assert any(b.flags & BufferFlags.DISCONT and b.pts > 4 * SECOND for b in out)
