"""Pipeline overhead against same-run baselines (issue: clocked pipeline, acceptance 6).

* appsrc -> 4 x identity -> appsink, streamed by one streaming thread, against a hand-written
  generator chain doing the same hand-offs (deque pop, four calls, deque append): Parallax
  must reach at least half the floor's buffers per second, i.e. take at most twice its time
  (`compare`: min of interleaved repeats, garbage collector off in both).
* Per-element cost (the difference that 4 identities make, per element and buffer) against
  GStreamer's identity measured the same way with gst-launch-1.0 in the same run.
* Queue crossing: ns per buffer through a `queue` element against a bare ``queue.Queue``
  hand-off between two threads.

Ratios are printed and asserted here only; absolute times vary on shared machines.
"""

from __future__ import annotations

import queue
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import pytest

import parallax
from parallax import Buffer, Metadata, State

N = 20_000
GST_BUFFERS = 200_000  # a gst-launch run is a process: ten times N keeps its noise small
REPEATS = 15  # interleaved pairs of runs per comparison round


def make_buffers(count: int) -> list[Buffer]:
    data = np.zeros((2, 2), np.uint8)
    return [Buffer(data, Metadata(pts=n * 1000, duration=1000)) for n in range(count)]


def parallax_chain(identities: int, with_queue: bool = False) -> int:
    """ns to stream N buffers appsrc -> identities -> (queue) -> appsink, PLAYING to EOS."""
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", max_buffers=0)
    middle = [parallax.make("identity") for _ in range(identities)]
    if with_queue:
        middle.append(parallax.make("queue", max_size_buffers=0))
    sink = parallax.make("appsink", sync=False)
    pipeline.link(src, *middle, sink)
    for buffer in make_buffers(N):
        src.push(buffer)
    src.end_of_stream()
    start = time.perf_counter_ns()
    pipeline.set_state(State.PLAYING)
    message = pipeline.bus.pop(60, types={parallax.MessageType.EOS, parallax.MessageType.ERROR})
    elapsed = time.perf_counter_ns() - start
    pipeline.set_state(State.NULL)
    assert message is not None and message.type is parallax.MessageType.EOS
    assert sink.rendered == N
    return elapsed


class Identity:
    def process(self, buffer: Buffer) -> Buffer:
        return buffer


def generator_chain(identities: int) -> int:
    """The floor: the same hand-offs written by hand, in one thread (ns for N buffers)."""
    pending = deque(make_buffers(N))
    received: deque[Buffer] = deque()
    elements = [Identity() for _ in range(identities)]

    def source():
        while pending:
            yield pending.popleft()

    def stage(upstream, element):
        for buffer in upstream:
            yield element.process(buffer)

    chain = source()
    for element in elements:
        chain = stage(chain, element)
    start = time.perf_counter_ns()
    for buffer in chain:
        received.append(buffer)
    elapsed = time.perf_counter_ns() - start
    assert len(received) == N
    return elapsed


def gstreamer_chain(identities: int, repeats: int = 3) -> float | None:
    """ns GStreamer needs for `GST_BUFFERS` buffers through `identities` identity elements
    (the least of ``repeats`` runs, from gst-launch's own "Execution ended after")."""
    if shutil.which("gst-launch-1.0") is None:
        return None
    elements = [f"fakesrc num-buffers={GST_BUFFERS} sizetype=fixed sizemax=4"]
    elements += ["identity"] * identities + ["fakesink sync=false"]
    command = ["gst-launch-1.0", *" ! ".join(elements).split()]
    # warm-up run: loads the plugins into the page cache
    subprocess.run([*command, "-q"], capture_output=True, timeout=120)
    return min(_gst_launch_ns(command) for _ in range(repeats))


def _gst_launch_ns(command: list[str]) -> float:
    start = time.perf_counter_ns()
    output = subprocess.run(command, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter_ns() - start
    match = re.search(r"Execution ended after (\d+):(\d+):(\d+)\.(\d+)", output.stdout)
    if match is None:
        return elapsed  # process time as an upper bound
    hours, minutes, seconds, fraction = match.groups()
    return (int(hours) * 3600 + int(minutes) * 60 + int(seconds)) * 1e9 + int(fraction) * 10 ** (
        9 - len(fraction)
    )


def queue_handoff() -> int:
    """ns to hand N buffers from one thread to another through a bare queue.Queue."""
    handoff: queue.Queue[Buffer | None] = queue.Queue()
    buffers = make_buffers(N)
    received = []

    def consume() -> None:
        while (item := handoff.get()) is not None:
            received.append(item)

    consumer = threading.Thread(target=consume)
    start = time.perf_counter_ns()
    consumer.start()
    for buffer in buffers:
        handoff.put(buffer)
    handoff.put(None)
    consumer.join()
    elapsed = time.perf_counter_ns() - start
    assert len(received) == N
    return elapsed


def test_chain_reaches_half_of_the_generator_floor(benchmark, compare):
    # at least half the floor's buffers per second = at most twice its time
    ratio = compare(
        "appsrc -> 4 identity -> appsink vs hand-written generator chain (the floor)",
        lambda: parallax_chain(4),
        lambda: generator_chain(4),
        at_most=2.0,
        repeats=REPEATS,
        self_timed=True,
    )
    benchmark.extra_info["fraction_of_floor"] = 1 / ratio
    benchmark.pedantic(parallax_chain, args=(4,), rounds=1, iterations=1)


def test_identity_costs_less_than_gstreamers(benchmark, report, best_of):
    per_element = (best_of(lambda: parallax_chain(4)) - best_of(lambda: parallax_chain(0))) / (
        4 * N
    )  # ns
    gst4, gst0 = gstreamer_chain(4), gstreamer_chain(0)
    report(f"Parallax identity: {per_element:.0f} ns per buffer")
    benchmark.extra_info["identity_ns"] = per_element
    benchmark.pedantic(parallax_chain, args=(0,), rounds=1, iterations=1)
    if gst4 is None or gst0 is None:
        reference = 300.0  # ns, measured on these machines (issue note) when gst is absent
        report("gst-launch-1.0 not installed: comparing with the recorded 300 ns")
    else:
        reference = max(gst4 - gst0, 0.0) / (4 * GST_BUFFERS)
        report(f"GStreamer identity: {reference:.0f} ns per buffer (same run)")
    benchmark.extra_info["gstreamer_identity_ns"] = reference
    assert per_element < reference


def test_queue_crossing_against_bare_queue(benchmark, report, best_of):
    with_queue = best_of(lambda: parallax_chain(0, with_queue=True))
    without = best_of(lambda: parallax_chain(0))
    bare = best_of(queue_handoff)
    crossing = (with_queue - without) / N
    report(
        f"queue element crossing: {crossing:.0f} ns per buffer; bare queue.Queue "
        f"hand-off: {bare / N:.0f} ns per buffer; ratio {crossing / (bare / N):.2f}"
    )
    benchmark.extra_info["queue_ns"] = crossing
    benchmark.extra_info["bare_queue_ns"] = bare / N
    benchmark.pedantic(parallax_chain, args=(0, True), rounds=1, iterations=1)
    assert crossing > 0


@pytest.mark.parametrize("copies", [100_000])
def test_metadata_copy_is_cheap(benchmark, report, best_of, copies):
    """Metadata.copy against copy.copy and a dataclass replace in the same run."""
    import copy
    import dataclasses

    @dataclasses.dataclass
    class Plain:
        pts: int | None = 1
        dts: int | None = None
        duration: int | None = 2
        offset: int | None = 3
        offset_end: int | None = 4
        sequence: int | None = 5
        flags: int = 0
        capture: object = None

    meta = Metadata(pts=1, duration=2, offset=3, offset_end=4, sequence=5)
    plain = Plain()

    def timed(function: Callable[[], object]) -> int:
        start = time.perf_counter_ns()
        for _ in range(copies):
            function()
        return (time.perf_counter_ns() - start) // copies

    ours = best_of(lambda: timed(meta.copy))
    shallow = best_of(lambda: timed(lambda: copy.copy(meta)))
    replaced = best_of(lambda: timed(lambda: dataclasses.replace(plain)))
    report(f"Metadata.copy {ours} ns; copy.copy {shallow} ns; dataclasses.replace {replaced} ns")
    benchmark.pedantic(meta.copy, rounds=1000, iterations=10)
    assert ours < shallow
    assert ours < replaced
