import numpy as np
import numpy.typing as npt

MEDIA_VIDEO: int
MEDIA_AUDIO: int
VIDEO_FORMATS: dict[str, int]
AUDIO_FORMATS: dict[str, int]
META_HEADER: int
HEADER_FLAG_DISCONT: int
HEADER_FLAG_CORRUPTED: int
CHUNK_FLAG_CORRUPTED: int
HEADER_SIZE: int

class Frame:
    data: npt.NDArray[np.uint8]
    has_header: bool
    pts: int
    dts_offset: int
    seq: int
    header_flags: int
    stride: int
    chunk_flags: int
    now: int
    ticks: int
    delay: int
    rate_num: int
    rate_denom: int
    process_ns: int
    queued_ns: int
    dropped: int

class Capture:
    def __init__(
        self, remote: str | None = None, fd: int = -1, timeout_ns: int = 2_000_000_000
    ) -> None: ...
    def nodes(self) -> list[tuple[int, int, str, str, str]]: ...
    def connect_video(
        self,
        target_id: int,
        properties: dict[str, str],
        formats: list[int],
        sizes: list[tuple[int, int]] | None = None,
        framerates: list[tuple[int, int]] | None = None,
        max_buffers: int = 8,
        autoconnect: bool = True,
    ) -> None: ...
    def connect_audio(
        self,
        target_id: int,
        properties: dict[str, str],
        formats: list[int],
        rates: list[int] | None = None,
        channels: list[int] | None = None,
        max_buffers: int = 8,
        autoconnect: bool = True,
    ) -> None: ...
    def wait_format(self, timeout_ns: int) -> tuple[int, int, int, int, int, int] | None: ...
    @property
    def state(self) -> str: ...
    def start(self) -> None: ...
    def take(self, timeout_ns: int) -> Frame | None: ...
    def cancel(self) -> None: ...
    @property
    def stats(self) -> tuple[int, int, int]: ...
    def _c_take_latencies(self, count: int, timeout_ns: int) -> npt.NDArray[np.int64]: ...
    def close(self) -> None: ...

def _extract(
    metas: list[tuple[int, bytes]],
    data: bytes,
    maxsize: int,
    chunk_offset: int,
    chunk_size: int,
    stride: int = 0,
) -> tuple[tuple[int, int, int, int, int] | None, bytes | None]: ...
def _pack_header(flags: int, offset: int, pts: int, dts_offset: int, seq: int) -> bytes: ...
