"""Per-period cost of alsasrc (read + status + PTS + Buffer) against a raw pyalsaaudio read.

Runs in the lab VM on snd-dummy (two substreams of hw:Dummy,0 capture at once):

    python -m parallax.lab run -- .venv/bin/pytest -m lab benchmarks/bench_alsa.py \
        --benchmark-enable

Each round waits (untimed) until both streams hold a period, then times one raw
``pcm.read()`` (plus the ``poll`` that tells it is ready) and one ``AlsaSrc.produce``
(poll, read, ``snd_pcm_status``, `CaptureTimeline.stamp`, the array view and the Buffer).
The two are interleaved so both see the same load; the ratio of their medians is asserted.
"""

from __future__ import annotations

import select
import statistics
import time

import alsaaudio
import pytest

import parallax
from parallax import SECOND, SystemClock, sample_time
from parallax.pipeline.context import ProduceContext

pytestmark = pytest.mark.lab

RATE, PERIOD, ROUNDS = 48000, 1024, 60


def test_alsasrc_period_overhead_against_raw_read(benchmark):
    raw = alsaaudio.PCM(
        alsaaudio.PCM_CAPTURE,
        alsaaudio.PCM_NONBLOCK,
        device="hw:Dummy,0,1",
        rate=RATE,
        channels=2,
        format=alsaaudio.PCM_FORMAT_S16_LE,
        periodsize=PERIOD,
        periods=4,
    )
    poller = select.poll()
    for fd, mask in raw.polldescriptors():
        poller.register(fd, mask)

    pipeline = parallax.Pipeline()
    src = parallax.make("alsasrc", device="hw:Dummy,0,0", period_size=PERIOD, periods=4)
    pipeline.add(src)
    context = ProduceContext(pipeline, SystemClock())
    src.open()
    try:
        src.start(context)
        raw.read()  # starts the raw stream
        assert src.produce(context) is not None  # starts ours

        def both_ready() -> None:
            poller.poll(2000)
            src.pcm.wait()

        raw_ns, ours_ns = [], []
        for _ in range(ROUNDS):
            both_ready()
            start = time.perf_counter_ns()
            poller.poll(0)
            frames, _data = raw.read()
            middle = time.perf_counter_ns()
            buffer = src.produce(context)
            end = time.perf_counter_ns()
            assert frames == PERIOD and buffer is not None and len(buffer.data) == PERIOD
            raw_ns.append(middle - start)
            ours_ns.append(end - middle)

        # pytest-benchmark's own table for the element's path
        benchmark.pedantic(src.produce, args=(context,), setup=both_ready, rounds=20)
    finally:
        src.close()
        raw.close()
    raw_median, ours_median = statistics.median(raw_ns), statistics.median(ours_ns)
    ratio = ours_median / raw_median
    period_ns = sample_time(PERIOD, RATE)
    benchmark.extra_info.update(
        raw_read_median_ns=raw_median,
        alsasrc_median_ns=ours_median,
        ratio=round(ratio, 2),
        share_of_period=round(ours_median / period_ns, 5),
    )
    print(
        f"\nraw pyalsaaudio read {raw_median / 1000:.1f} us, alsasrc produce "
        f"{ours_median / 1000:.1f} us per {PERIOD}-frame period: ratio {ratio:.2f}, "
        f"{100 * ours_median / period_ns:.2f}% of the period ({period_ns / SECOND * 1000:.1f} ms)"
    )
    # Timestamping and wrapping a period costs a few times a bare read, and far less than
    # the period itself (in the ~10x slower lab VM).
    assert ratio < 15
    assert ours_median < period_ns // 10
