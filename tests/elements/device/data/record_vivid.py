"""Record the timing fields of vivid's buffers, for the host tests of FrameTimestamps.

Run in the lab (it writes JSON next to this file through a writable share):

    .venv/bin/python -m parallax.lab run --writable tests/elements/device/data -- \
        .venv/bin/python tests/elements/device/data/record_vivid.py

Each recording is a list of ``[flags, sequence, timestamp_ns, dequeued_ns]``: the
``v4l2_buffer`` fields and CLOCK_MONOTONIC right after VIDIOC_DQBUF.
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

from parallax._ext.v4l2 import Stream
from parallax.caps import VideoFormat
from parallax.elements.device.v4l2device import V4l2Device
from parallax.time import SECOND

RECORDINGS = {
    # name: (controls, frames)
    "vivid_640x360_30fps_eof": ({"timestamp_source": 0}, 40),
    "vivid_640x360_30fps_soe": ({"timestamp_source": 1}, 40),
    # vivid drops this share of buffers: real sequence gaps
    "vivid_640x360_30fps_drops": ({"timestamp_source": 0, "percentage_of_dropped_buffers": 20}, 40),
    # vivid starts the sequence 128 below 2**32: it wraps
    "vivid_640x360_30fps_seqwrap": ({"timestamp_source": 0, "wrap_sequence_number": 1}, 135),
    # vivid offsets its timestamps so that they wrap (as a 32-bit seconds count would)
    "vivid_640x360_30fps_timewrap": ({"timestamp_source": 0, "wrap_timestamp": 1}, 40),
}


def record(controls: dict[str, int], frames: int) -> list[list[int]]:
    device = V4l2Device("/dev/video0")
    try:
        device.set_controls(controls)
        device.configure(VideoFormat(640, 360, "YUY2", Fraction(30)))
        stream = Stream(device.fd)
        stream.request(4)
        for index in range(stream.count):
            stream.queue(index)
        stream.start()
        rows = []
        while len(rows) < frames:
            got = stream.dequeue(5 * SECOND)
            assert got is not None, "vivid gave no frame within 5 s"
            index, _used, flags, sequence, timestamp, _field, dequeued = got
            rows.append([flags, sequence, timestamp, dequeued])
            stream.queue(index)
        stream.stop()
        return rows
    finally:
        device.close()


def main() -> None:
    out = Path(__file__).with_name("vivid_timing.json")
    data = {name: record(controls, n) for name, (controls, n) in RECORDINGS.items()}
    out.write_text(json.dumps(data, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
