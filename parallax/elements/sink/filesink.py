"""filesink: writes every buffer's bytes to a file."""

from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np

from parallax.buffer import Buffer
from parallax.errors import PipelineError
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Property, Sink


class FileSink(Sink):
    """Append each buffer's payload (bytes, or a numpy array's raw memory) to ``location``.

    Writes are unbuffered, so a full disk fails on the buffer that did not fit (the pipeline
    stops with a `PipelineError` naming this element) and a crash loses nothing written.
    Muxers write their files themselves (``mp4mux location=...``); filesink stores raw
    streams. Example: ``videotestsrc num-buffers=10 ! filesink location=frames.rgb``.
    """

    factory_name = "filesink"
    description = "Write buffers to a file"
    location = Property(str, "", "file to write (required)")
    append = Property(bool, False, "append instead of truncating")
    sync = Property(bool, False, "wait on the clock until each buffer's time")  # type: ignore[assignment]

    def __init__(self, name: str | None = None, **properties: object) -> None:
        super().__init__(name, **properties)
        self._file: BinaryIO | None = None
        self.bytes_written = 0

    def open(self) -> None:
        """Check ``location`` is set and its directory exists."""
        if not self.location:
            raise PipelineError(self.name, "set location=FILE (the file to write)")
        folder = os.path.dirname(os.path.abspath(self.location))
        if not os.path.isdir(folder):
            raise PipelineError(
                self.name, f"location={self.location}: directory {folder} does not exist"
            )

    def start(self, context: ProduceContext) -> None:
        """Open the file."""
        try:
            self._file = open(self.location, "ab" if self.append else "wb", buffering=0)  # noqa: SIM115
        except OSError as error:
            raise PipelineError(
                self.name, f"cannot open {self.location}: {error.strerror}"
            ) from error
        self.bytes_written = 0

    def render(self, buffer: Buffer) -> None:
        """Write the payload (all of it: a short write is retried)."""
        assert self._file is not None
        data = buffer.data
        payload = np.ascontiguousarray(data).data if isinstance(data, np.ndarray) else data
        view = memoryview(payload).cast("B")
        while view:
            written = self._file.write(view)
            if not written:
                raise OSError(f"cannot write to {self.location}")
            view = view[written:]
            self.bytes_written += written

    def stop(self) -> None:
        """Close the file."""
        file, self._file = self._file, None
        if file is not None:
            file.close()
