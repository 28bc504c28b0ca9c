"""Seed task 6.1: timestamps and metadata arrive unchanged through the pipeline."""

import itertools

import numpy as np

import parallax
from parallax import SECOND, Buffer, BufferFlags, Metadata, State
from parallax.caps import AUDIO_RAW, Caps, Format
from parallax.pipeline import Transform
from parallax.time import CaptureTime, ClockDomain, sample_time, split_pts


class Tag(Transform):
    """A custom transform: new data, same metadata (the house rule for transforms)."""

    factory_name = "tag"

    def process(self, buffer: Buffer) -> Buffer:
        return buffer.with_data(buffer.data * 2)


class ThreeWaySplit(Transform):
    """Makes 3 outputs per input, with exact interpolated times."""

    factory_name = "threewaysplit"
    rate = 44100

    def set_format(self, fmt: Format, downstream: Caps) -> Format:
        self.rate = fmt.rate  # type: ignore[union-attr]
        return fmt

    def process(self, buffer: Buffer) -> list[Buffer]:
        n = buffer.data.shape[0]
        chunk = -(-n // 3)
        starts, durations = split_pts(buffer.pts, n, chunk, self.rate, buffer.duration)
        outputs = []
        for k, (start, duration) in enumerate(zip(starts, durations, strict=True)):
            piece = buffer.with_data(buffer.data[k * chunk : (k + 1) * chunk])
            piece.pts, piece.duration = int(start), int(duration)
            piece.offset = buffer.offset + k * chunk
            piece.offset_end = min(buffer.offset + (k + 1) * chunk, buffer.offset_end)
            outputs.append(piece)
        return outputs


def known_buffers(count: int) -> list[Buffer]:
    buffers = []
    for n in range(count):
        meta = Metadata(
            pts=1_000_000_000 + n * 40_000_000 + (n % 3) * 1_234,  # jittered on purpose
            dts=999_000_000 + n * 40_000_000,
            duration=40_000_000,
            offset=n,
            offset_end=n + 1,
            sequence=1000 + n,
            flags=BufferFlags.DISCONT if n == 3 else BufferFlags.NONE,
            capture=CaptureTime(ClockDomain.MONOTONIC, 5_000_000_000_123 + n * 40_000_017),
        )
        buffers.append(Buffer(np.full((2, 2), n, np.int16), meta))
    return buffers


def test_metadata_unchanged_through_identity_queue_and_custom_transform():
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", caps="video/x-raw,format=GRAY8,width=2,height=2,framerate=25/1")
    tag = Tag()
    sink = parallax.make("appsink")
    pipeline.link(src, parallax.make("identity"), parallax.make("queue"), tag, sink)
    sent = known_buffers(20)
    expected = [b.meta.copy() for b in sent]
    with pipeline:
        pipeline.set_state(State.PLAYING)
        for buffer in sent:
            src.push(buffer)
        src.end_of_stream()
        received = list(sink)
    assert [b.meta for b in received] == expected
    assert [int(b.data[0, 0]) for b in received] == [2 * n for n in range(20)]
    assert received[3].flags == BufferFlags.DISCONT
    assert received[5].capture == CaptureTime(
        ClockDomain.MONOTONIC, 5_000_000_000_123 + 5 * 40_000_017
    )


def test_three_outputs_per_input_interpolate_exactly():
    rate, samples = 44100, 1000
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", caps=Caps.of(AUDIO_RAW, format="S16LE", rate=rate, channels=1))
    sink = parallax.make("appsink")
    pipeline.link(src, ThreeWaySplit(), sink)
    with pipeline:
        pipeline.set_state(State.PLAYING)
        for n in range(5):
            start = n * samples
            pts = sample_time(start, rate, 7)
            meta = Metadata(
                pts=pts,
                duration=sample_time(start + samples, rate, 7) - pts,
                offset=start,
                offset_end=start + samples,
            )
            src.push(Buffer(np.zeros((samples, 1), np.int16), meta))
        src.end_of_stream()
        pieces = list(sink)
    assert len(pieces) == 15
    for k, piece in enumerate(pieces):
        # a piece starts at its input's PTS plus the exact time of the samples before it
        first = k // 3 * samples
        input_pts = sample_time(first, rate, 7)
        assert piece.pts == input_pts + (piece.offset - first) * SECOND // rate
        assert piece.data.shape[0] == piece.offset_end - piece.offset
    for n in range(5):
        # the three pieces last exactly as long as their input
        durations = sum(p.duration for p in pieces[3 * n : 3 * n + 3])
        assert durations == sample_time((n + 1) * samples, rate) - sample_time(n * samples, rate)
    for before, after in itertools.pairwise(pieces):
        assert before.pts + before.duration == after.pts  # tiles with no gap or overlap
    assert pieces[-1].pts + pieces[-1].duration == sample_time(5 * samples, rate, 7)
