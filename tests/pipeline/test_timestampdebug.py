import logging

import numpy as np

import parallax
from parallax import Buffer, Metadata


def run_through_debug(pts_list, durations):
    pipeline = parallax.Pipeline()
    src = parallax.make("appsrc", max_buffers=0)
    debug = parallax.make("timestampdebug", name="dbg")
    pipeline.link(src, debug, parallax.make("fakesink", sync=False))
    for n, (pts, duration) in enumerate(zip(pts_list, durations, strict=True)):
        src.push(Buffer(np.zeros(1), Metadata(pts=pts, duration=duration, sequence=n)))
    src.end_of_stream()
    pipeline.run(timeout=10)
    return debug.stats


def test_stats_count_intervals_gaps_and_backward_steps():
    pts = [0, 40, 80, 200, 190, 230, None, 270]
    stats = run_through_debug(pts, [40] * len(pts))
    assert stats.buffers == 8
    assert stats.first_pts == 0 and stats.last_pts == 270
    assert stats.missing_pts == 1
    assert stats.non_monotonic == 1  # 200 -> 190
    assert stats.gaps == 1  # 80 -> 200 with 40-long buffers
    assert stats.min_interval == 40 and stats.max_interval == 120
    assert stats.intervals == 5  # 40, 40, 120, 40, 40 (190 -> 230, 230 -> 270)
    assert stats.mean_interval == 280 / 5
    assert stats.span == 270


def test_logs_each_buffer_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="parallax.timestampdebug"):
        run_through_debug([0, 33_333_333], [33_333_333, 33_333_334])
    lines = [r.getMessage() for r in caplog.records if r.name == "parallax.timestampdebug"]
    assert lines == [
        "[dbg] PTS=0:00:00.000000000 DTS=none Duration=0:00:00.033333333 Seq=0",
        "[dbg] PTS=0:00:00.033333333 DTS=none Duration=0:00:00.033333334 Seq=1",
    ]
