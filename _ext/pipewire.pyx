# PipeWire capture: one connection to a daemon with one capture stream, on a pw_thread_loop.
#
# Threads. `on_process` runs in libpipewire's data thread (RT_PROCESS), every other callback
# in the pw_thread_loop thread with the loop lock held. Processing in the data thread returns
# each buffer within its graph cycle: PipeWire 0.3.65 recycles at most one buffer per cycle,
# so a process callback that ran late in the loop thread left one buffer behind for good each
# time, until the producer's pool ran dry (SPA's videotestsrc then stops for good).
# What the threads share (flags, the ring) is guarded by `Shared.lock`, held for a few
# instructions at a time, with `Shared.changed` to wait on; nobody waits while holding it, and
# the loop lock is only taken before it, never after. Callbacks are plain C (`noexcept nogil`)
# and never take the GIL; Python takes the locks only with the GIL released.
#
# Buffers. `on_process` copies each buffer into a slot of a bounded ring and hands the
# pw_buffer back to PipeWire at once: a PipeWire pool holds a handful of buffers shared with
# the producer, so keeping one while Python (or a downstream queue) holds the frame would stall
# or starve the producer, and a mapped buffer's memory goes away on renegotiation or
# disconnect, which would leave a numpy view dangling. The copy is one memcpy of a frame
# (1.2 MB at 640x480 BGRx: ~0.1 ms) into memory that becomes the numpy array's own, so no
# second copy happens. When the ring is full the new buffer is dropped (and counted): PipeWire
# keeps running and the next frame says how many were lost before it.
#
# Time. Everything copied is PipeWire's own: the spa_meta_header (pts in CLOCK_MONOTONIC ns,
# seq, flags) and pw_time from pw_stream_get_time_n (`now`: CLOCK_MONOTONIC ns of the graph
# cycle; `ticks`, `delay` in units of `rate`). The element turns them into running time.
cimport cython
cimport numpy as cnp
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.errno cimport EPIPE, errno
from libc.stdint cimport INT64_MIN, int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, strtoull
from libc.string cimport memcpy, memset, strcmp, strncpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from libpipewire cimport *

import os

import numpy as np

cnp.import_array()
pw_init(NULL, NULL)

cdef enum:
    MAX_SLOTS = 64  # hand-off ring slots at most
    MAX_NODES = 256  # nodes remembered from the registry
    TEXT = 128  # bytes of a remembered node property
    POD_BYTES = 4096  # room for the format and buffer params we build

# Media types (also the `media` of a negotiated format).
MEDIA_VIDEO = SPA_MEDIA_TYPE_video
MEDIA_AUDIO = SPA_MEDIA_TYPE_audio

# Our pixel and sample format names (GStreamer's, as in parallax.caps) -> SPA format ids.
VIDEO_FORMATS = {
    "RGB": SPA_VIDEO_FORMAT_RGB,
    "BGR": SPA_VIDEO_FORMAT_BGR,
    "RGBx": SPA_VIDEO_FORMAT_RGBx,
    "BGRx": SPA_VIDEO_FORMAT_BGRx,
    "GRAY8": SPA_VIDEO_FORMAT_GRAY8,
    "YUY2": SPA_VIDEO_FORMAT_YUY2,
    "UYVY": SPA_VIDEO_FORMAT_UYVY,
}
AUDIO_FORMATS = {
    "S16LE": SPA_AUDIO_FORMAT_S16_LE,
    "S32LE": SPA_AUDIO_FORMAT_S32_LE,
    "F32LE": SPA_AUDIO_FORMAT_F32_LE,
}

META_HEADER = SPA_META_Header
HEADER_FLAG_DISCONT = SPA_META_HEADER_FLAG_DISCONT
HEADER_FLAG_CORRUPTED = SPA_META_HEADER_FLAG_CORRUPTED
CHUNK_FLAG_CORRUPTED = SPA_CHUNK_FLAG_CORRUPTED
HEADER_SIZE = sizeof(spa_meta_header)


cdef struct Slot:
    unsigned char *data  # malloc'd; ownership passes to the Frame that takes it
    size_t capacity
    size_t size
    int stride
    int chunk_flags
    bint has_header
    spa_meta_header header
    pw_time time
    int64_t process_ns  # CLOCK_MONOTONIC at entry to on_process
    int64_t queued_ns  # CLOCK_MONOTONIC when the copy was done and the buffer given back
    uint64_t dropped_before  # buffers dropped (ring full) since the previous slot


cdef struct NodeInfo:
    uint32_t id
    uint64_t serial
    char name[TEXT]
    char media_class[TEXT]
    char description[TEXT]


cdef struct Shared:
    pthread_mutex_t lock  # guards the flags and the ring (see the top of this file)
    pthread_cond_t changed  # broadcast whenever something a waiter checks changes
    pw_thread_loop *loop
    pw_context *context
    pw_core *core
    pw_registry *registry
    pw_stream *stream
    spa_hook core_listener
    spa_hook registry_listener
    spa_hook stream_listener
    int sync_seq
    bint synced
    NodeInfo nodes[MAX_NODES]
    int n_nodes
    uint32_t target_id
    bint target_removed
    bint failed
    int error_res
    char error[256]
    pw_stream_state state
    bint format_ready
    uint32_t media_type
    spa_video_info_raw video
    spa_audio_info_raw audio
    Slot slots[MAX_SLOTS]
    uint32_t n_slots
    uint32_t head
    uint32_t count
    uint64_t dropped_pending
    uint64_t dropped
    uint64_t unmapped
    uint64_t delivered
    bint cancelled
    bint running  # buffers before `start` go straight back to PipeWire


cdef pw_core_events core_events
cdef pw_registry_events registry_events
cdef pw_stream_events stream_events


cdef inline int64_t monotonic_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1_000_000_000 + ts.tv_nsec


cdef void copy_text(char *dest, const char *src) noexcept nogil:
    if src == NULL:
        dest[0] = 0
    else:
        strncpy(dest, src, TEXT - 1)
        dest[TEXT - 1] = 0


cdef void fail(Shared *s, int res, const char *message) noexcept nogil:
    # The first failure wins: it is the cause, later ones are its consequences.
    pthread_mutex_lock(&s.lock)
    if not s.failed:
        s.failed = True
        s.error_res = res
        if message == NULL:
            message = b"unknown error"
        strncpy(s.error, message, 255)
        s.error[255] = 0
    pthread_cond_broadcast(&s.changed)
    pthread_mutex_unlock(&s.lock)


cdef void set_flag(Shared *s, bint *flag) noexcept nogil:
    pthread_mutex_lock(&s.lock)
    flag[0] = True
    pthread_cond_broadcast(&s.changed)
    pthread_mutex_unlock(&s.lock)


cdef void deadline_after(timespec *deadline, int64_t timeout_ns) noexcept nogil:
    cdef int64_t t = monotonic_ns() + timeout_ns
    deadline.tv_sec = t // 1_000_000_000
    deadline.tv_nsec = t % 1_000_000_000


cdef bint wait_changed(Shared *s, const timespec *deadline) noexcept nogil:
    """Wait (s.lock held) for a broadcast; False once the deadline passed."""
    return pthread_cond_timedwait(&s.changed, &s.lock, deadline) == 0


# -- extraction (also driven by the unit tests with buffers built in C memory) ----------------

cdef bint read_header(const spa_buffer *buffer, spa_meta_header *out) noexcept nogil:
    """Copy the buffer's spa_meta_header into `out`; False when it carries none (or a short one)."""
    cdef const spa_meta_header *header = <const spa_meta_header *>spa_buffer_find_meta_data(
        buffer, SPA_META_Header, sizeof(spa_meta_header)
    )
    if header == NULL:
        return False
    out[0] = header[0]
    return True


cdef int fill_slot(const spa_buffer *buffer, Slot *slot) noexcept nogil:
    """Copy data plane 0 (its valid chunk) and the header into `slot`.

    Returns 0, or -1 when the plane is not mapped (DMA-BUF) or memory ran out. The chunk offset
    is taken modulo maxsize and the size clamped to what is left, as spa/buffer/buffer.h says.
    """
    cdef const spa_data *plane
    cdef uint32_t offset, size
    slot.has_header = read_header(buffer, &slot.header)
    if buffer.n_datas < 1:
        return -1
    plane = &buffer.datas[0]
    if plane.data == NULL or plane.maxsize == 0:
        return -1
    offset = plane.chunk.offset % plane.maxsize
    size = min(plane.chunk.size, plane.maxsize - offset)
    if slot.capacity < size:
        free(slot.data)
        slot.data = <unsigned char *>malloc(size)
        slot.capacity = size if slot.data != NULL else 0
        if slot.data == NULL:
            return -1
    memcpy(slot.data, <const unsigned char *>plane.data + offset, size)
    slot.size = size
    slot.stride = plane.chunk.stride
    slot.chunk_flags = plane.chunk.flags
    return 0


# -- callbacks (loop thread, loop lock held) -------------------------------------------------

cdef void on_core_done(void *data, uint32_t id, int seq) noexcept nogil:
    cdef Shared *s = <Shared *>data
    if id == PW_ID_CORE and seq == s.sync_seq:
        set_flag(s, &s.synced)


cdef void on_core_error(void *data, uint32_t id, int seq, int res, const char *message) noexcept nogil:
    # Errors on the core itself (id 0) end the connection: EPIPE when the daemon went away.
    cdef Shared *s = <Shared *>data
    if id == PW_ID_CORE:
        fail(s, res, message)


cdef void on_global(
    void *data, uint32_t id, uint32_t permissions, const char *type, uint32_t version,
    const spa_dict *props
) noexcept nogil:
    cdef Shared *s = <Shared *>data
    cdef NodeInfo *node
    cdef const char *serial
    if strcmp(type, PW_TYPE_INTERFACE_Node) != 0 or props == NULL or s.n_nodes >= MAX_NODES:
        return
    node = &s.nodes[s.n_nodes]
    node.id = id
    serial = spa_dict_lookup(props, b"object.serial")
    node.serial = strtoull(serial, NULL, 10) if serial != NULL else id
    copy_text(node.name, spa_dict_lookup(props, b"node.name"))
    copy_text(node.media_class, spa_dict_lookup(props, b"media.class"))
    copy_text(node.description, spa_dict_lookup(props, b"node.description"))
    s.n_nodes += 1


cdef void on_global_remove(void *data, uint32_t id) noexcept nogil:
    cdef Shared *s = <Shared *>data
    cdef int i
    for i in range(s.n_nodes):
        if s.nodes[i].id == id:
            s.nodes[i] = s.nodes[s.n_nodes - 1]
            s.n_nodes -= 1
            break
    if id == s.target_id:
        set_flag(s, &s.target_removed)


cdef void on_state_changed(
    void *data, pw_stream_state old, pw_stream_state state, const char *error
) noexcept nogil:
    cdef Shared *s = <Shared *>data
    s.state = state
    if state == PW_STREAM_STATE_ERROR:
        fail(s, -EPIPE, error)


cdef void on_param_changed(void *data, uint32_t id, const spa_pod *param) noexcept nogil:
    cdef Shared *s = <Shared *>data
    cdef uint32_t media_type, media_subtype
    cdef unsigned char pod[POD_BYTES]
    cdef spa_pod_builder builder
    cdef const spa_pod *params[2]
    if id != SPA_PARAM_Format or param == NULL:
        return
    if spa_format_parse(param, &media_type, &media_subtype) < 0:
        return
    if media_subtype != SPA_MEDIA_SUBTYPE_raw:
        fail(s, -22, b"the stream negotiated a non-raw format")
        return
    if media_type == SPA_MEDIA_TYPE_video:
        spa_format_video_raw_parse(param, &s.video)
    elif media_type == SPA_MEDIA_TYPE_audio:
        spa_format_audio_raw_parse(param, &s.audio)
    else:
        return
    s.media_type = media_type
    # Ask for the header meta (pts, seq, flags) and memory we can read (no DMA-BUF).
    spa_pod_builder_init(&builder, pod, POD_BYTES)
    params[0] = build_meta_header(&builder)
    params[1] = build_buffers(&builder)
    pw_stream_update_params(s.stream, params, 2)
    set_flag(s, &s.format_ready)


cdef void on_process(void *data) noexcept nogil:
    # Data thread. Take every buffer there is, copy it, give it back within this cycle.
    cdef Shared *s = <Shared *>data
    cdef pw_buffer *b
    while True:
        b = pw_stream_dequeue_buffer(s.stream)
        if b == NULL:
            return
        take_buffer(s, b, monotonic_ns())
        pw_stream_queue_buffer(s.stream, b)


cdef void take_buffer(Shared *s, pw_buffer *b, int64_t entered) noexcept nogil:
    cdef Slot *slot = NULL
    cdef int filled
    pthread_mutex_lock(&s.lock)
    if s.running:
        if s.count == s.n_slots:  # the consumer is behind: drop this one, say so on the next
            s.dropped_pending += 1
            s.dropped += 1
        else:  # slots past head + count are the producer's: fill it without the lock
            slot = &s.slots[(s.head + s.count) % s.n_slots]
    pthread_mutex_unlock(&s.lock)
    if slot == NULL:
        return
    pw_stream_get_time_n(s.stream, &slot.time, sizeof(pw_time))
    filled = fill_slot(b.buffer, slot)
    slot.process_ns = entered
    slot.queued_ns = monotonic_ns()
    pthread_mutex_lock(&s.lock)
    if filled < 0:
        s.unmapped += 1
        s.dropped_pending += 1
    else:
        slot.dropped_before = s.dropped_pending
        s.dropped_pending = 0
        s.count += 1
        s.delivered += 1
        pthread_cond_broadcast(&s.changed)
    pthread_mutex_unlock(&s.lock)


# -- pods -------------------------------------------------------------------------------------

cdef const spa_pod *build_meta_header(spa_pod_builder *b) noexcept nogil:
    cdef spa_pod_frame f
    spa_pod_builder_push_object(b, &f, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta)
    spa_pod_builder_prop(b, SPA_PARAM_META_type, 0)
    spa_pod_builder_id(b, SPA_META_Header)
    spa_pod_builder_prop(b, SPA_PARAM_META_size, 0)
    spa_pod_builder_int(b, sizeof(spa_meta_header))
    return <const spa_pod *>spa_pod_builder_pop(b, &f)


cdef const spa_pod *build_buffers(spa_pod_builder *b) noexcept nogil:
    cdef spa_pod_frame f, choice
    spa_pod_builder_push_object(b, &f, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers)
    # Enough buffers that the producer never waits for ours to come back, even when a loaded
    # machine delays our data thread: with 2 (the producer's default) every other frame was
    # lost, and SPA's videotestsrc in live mode stops for good when its pool runs dry.
    spa_pod_builder_prop(b, SPA_PARAM_BUFFERS_buffers, 0)
    spa_pod_builder_push_choice(b, &choice, SPA_CHOICE_Range, 0)
    spa_pod_builder_int(b, 16)
    spa_pod_builder_int(b, 2)
    spa_pod_builder_int(b, 64)
    spa_pod_builder_pop(b, &choice)
    spa_pod_builder_prop(b, SPA_PARAM_BUFFERS_dataType, 0)
    spa_pod_builder_push_choice(b, &choice, SPA_CHOICE_Flags, 0)
    spa_pod_builder_int(b, (1 << SPA_DATA_MemPtr) | (1 << SPA_DATA_MemFd))
    spa_pod_builder_pop(b, &choice)
    return <const spa_pod *>spa_pod_builder_pop(b, &f)


cdef void build_id_choice(spa_pod_builder *b, uint32_t key, list ids):
    cdef spa_pod_frame choice
    spa_pod_builder_prop(b, key, 0)
    spa_pod_builder_push_choice(b, &choice, SPA_CHOICE_Enum, 0)
    spa_pod_builder_id(b, ids[0])  # the default
    for value in ids:
        spa_pod_builder_id(b, value)
    spa_pod_builder_pop(b, &choice)


cdef void build_int_choice(spa_pod_builder *b, uint32_t key, object values, int preferred,
                           int low, int high):
    # values None: any in [low, high] (preferring `preferred`); else one of the list.
    cdef spa_pod_frame choice
    spa_pod_builder_prop(b, key, 0)
    if values is None:
        spa_pod_builder_push_choice(b, &choice, SPA_CHOICE_Range, 0)
        for value in (preferred, low, high):
            spa_pod_builder_int(b, value)
    else:
        spa_pod_builder_push_choice(b, &choice, SPA_CHOICE_Enum, 0)
        spa_pod_builder_int(b, values[0])
        for value in values:
            spa_pod_builder_int(b, value)
    spa_pod_builder_pop(b, &choice)


cdef const spa_pod *build_video_formats(spa_pod_builder *b, list formats, object sizes,
                                        object framerates) except NULL:
    cdef spa_pod_frame f, choice
    spa_pod_builder_push_object(b, &f, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat)
    spa_pod_builder_prop(b, SPA_FORMAT_mediaType, 0)
    spa_pod_builder_id(b, SPA_MEDIA_TYPE_video)
    spa_pod_builder_prop(b, SPA_FORMAT_mediaSubtype, 0)
    spa_pod_builder_id(b, SPA_MEDIA_SUBTYPE_raw)
    build_id_choice(b, SPA_FORMAT_VIDEO_format, formats)
    spa_pod_builder_prop(b, SPA_FORMAT_VIDEO_size, 0)
    if sizes is None:
        spa_pod_builder_push_choice(b, &choice, SPA_CHOICE_Range, 0)
        spa_pod_builder_rectangle(b, 640, 480)
        spa_pod_builder_rectangle(b, 1, 1)
        spa_pod_builder_rectangle(b, 16384, 16384)
    else:
        spa_pod_builder_push_choice(b, &choice, SPA_CHOICE_Enum, 0)
        spa_pod_builder_rectangle(b, sizes[0][0], sizes[0][1])
        for width, height in sizes:
            spa_pod_builder_rectangle(b, width, height)
    spa_pod_builder_pop(b, &choice)
    spa_pod_builder_prop(b, SPA_FORMAT_VIDEO_framerate, 0)
    if framerates is None:
        spa_pod_builder_push_choice(b, &choice, SPA_CHOICE_Range, 0)
        spa_pod_builder_fraction(b, 30, 1)
        spa_pod_builder_fraction(b, 0, 1)
        spa_pod_builder_fraction(b, 1000, 1)
    else:
        spa_pod_builder_push_choice(b, &choice, SPA_CHOICE_Enum, 0)
        spa_pod_builder_fraction(b, framerates[0][0], framerates[0][1])
        for num, denom in framerates:
            spa_pod_builder_fraction(b, num, denom)
    spa_pod_builder_pop(b, &choice)
    return <const spa_pod *>spa_pod_builder_pop(b, &f)


cdef const spa_pod *build_audio_formats(spa_pod_builder *b, list formats, object rates,
                                        object channels) except NULL:
    cdef spa_pod_frame f
    spa_pod_builder_push_object(b, &f, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat)
    spa_pod_builder_prop(b, SPA_FORMAT_mediaType, 0)
    spa_pod_builder_id(b, SPA_MEDIA_TYPE_audio)
    spa_pod_builder_prop(b, SPA_FORMAT_mediaSubtype, 0)
    spa_pod_builder_id(b, SPA_MEDIA_SUBTYPE_raw)
    build_id_choice(b, SPA_FORMAT_AUDIO_format, formats)
    build_int_choice(b, SPA_FORMAT_AUDIO_rate, rates, 48000, 1, 768000)
    build_int_choice(b, SPA_FORMAT_AUDIO_channels, channels, 2, 1, 64)
    return <const spa_pod *>spa_pod_builder_pop(b, &f)


# -- taking a slot (consumer thread, GIL released) --------------------------------------------

cdef enum TakeStatus:
    TAKE_OK = 1
    TAKE_NONE = 0  # timeout or cancel
    TAKE_FAILED = -1  # connection error, stream error or target removed


cdef TakeStatus take_slot(Shared *s, int64_t timeout_ns, Slot *out,
                          unsigned char **spare, size_t spare_capacity) noexcept nogil:
    """Wait up to `timeout_ns` for a filled slot and move it to `out` (data ownership too).

    A spare block of `spare_capacity` bytes, if given, replaces the slot's memory, so the loop
    thread does not allocate in the steady state; `*spare` is set to NULL when used.
    """
    cdef timespec deadline
    cdef Slot *slot
    cdef TakeStatus status = TAKE_NONE
    deadline_after(&deadline, timeout_ns)
    pthread_mutex_lock(&s.lock)
    while s.count == 0 and not s.failed and not s.target_removed and not s.cancelled:
        if not wait_changed(s, &deadline):
            break
    if s.count > 0:  # frames before a failure are still delivered
        slot = &s.slots[s.head]
        out[0] = slot[0]
        slot.data = spare[0]
        slot.capacity = spare_capacity if spare[0] != NULL else 0
        spare[0] = NULL
        s.head = (s.head + 1) % s.n_slots
        s.count -= 1
        status = TAKE_OK
    elif s.failed or s.target_removed:
        status = TAKE_FAILED
    s.cancelled = False
    pthread_mutex_unlock(&s.lock)
    return status


cdef class _Memory:
    """Owns a malloc'd block that a numpy array views (the array's base)."""

    cdef void *data

    def __dealloc__(self):
        free(self.data)


cdef object wrap(unsigned char *data, size_t size):
    cdef cnp.npy_intp length = size
    cdef _Memory owner = _Memory.__new__(_Memory)
    owner.data = data
    array = cnp.PyArray_SimpleNewFromData(1, &length, cnp.NPY_UINT8, data)
    cnp.set_array_base(array, owner)
    return array


@cython.final
cdef class Frame:
    """One captured PipeWire buffer: its data (copied) and PipeWire's own timing.

    Attributes
    ----------
    data : numpy.ndarray
        uint8, the valid chunk of data plane 0 (``size`` bytes, rows ``stride`` bytes apart).
    has_header : bool
        The buffer carried a ``spa_meta_header``; the next four fields are 0 otherwise.
    pts : int
        Header pts, ns, CLOCK_MONOTONIC (when the producer captured the frame).
    dts_offset : int
        Header dts - pts, ns.
    seq : int
        Header sequence number (+1 per frame; a jump means frames were lost upstream).
    header_flags : int
        ``SPA_META_HEADER_FLAG_*``.
    stride, chunk_flags : int
        From the chunk.
    now : int
        pw_time.now: CLOCK_MONOTONIC ns of the graph cycle that delivered this buffer (0 when
        PipeWire had no time yet).
    ticks, delay : int
        pw_time.ticks (graph position) and delay (to the device), in units of rate_num /
        rate_denom seconds.
    rate_num, rate_denom : int
        pw_time.rate.
    process_ns, queued_ns : int
        CLOCK_MONOTONIC ns at entry to the process callback and when the copy was done and the
        buffer given back to PipeWire.
    dropped : int
        Buffers dropped just before this one because the hand-off ring was full.
    """

    cdef readonly object data
    cdef readonly bint has_header
    cdef readonly int64_t pts
    cdef readonly int64_t dts_offset
    cdef readonly uint64_t seq
    cdef readonly uint32_t header_flags
    cdef readonly int stride
    cdef readonly int chunk_flags
    cdef readonly int64_t now
    cdef readonly uint64_t ticks
    cdef readonly int64_t delay
    cdef readonly uint32_t rate_num
    cdef readonly uint32_t rate_denom
    cdef readonly int64_t process_ns
    cdef readonly int64_t queued_ns
    cdef readonly uint64_t dropped


cdef Frame make_frame(Slot *slot):
    cdef Frame frame = Frame.__new__(Frame)
    frame.data = wrap(slot.data, slot.size)
    slot.data = NULL  # the array owns it now
    frame.has_header = slot.has_header
    if slot.has_header:
        frame.pts = slot.header.pts
        frame.dts_offset = slot.header.dts_offset
        frame.seq = slot.header.seq
        frame.header_flags = slot.header.flags
    frame.stride = slot.stride
    frame.chunk_flags = slot.chunk_flags
    frame.now = slot.time.now
    frame.ticks = slot.time.ticks
    frame.delay = slot.time.delay
    frame.rate_num = slot.time.rate.num
    frame.rate_denom = slot.time.rate.denom
    frame.process_ns = slot.process_ns
    frame.queued_ns = slot.queued_ns
    frame.dropped = slot.dropped_before
    return frame


cdef class Capture:
    """A connection to a PipeWire daemon with (after `connect_video` / `connect_audio`) one
    capture stream, run by its own pw_thread_loop.

    Parameters
    ----------
    remote : str or None
        Daemon socket name (``PIPEWIRE_REMOTE`` / ``pipewire-0`` when None).
    fd : int
        A connected socket (from the ScreenCast portal's OpenPipeWireRemote), or -1. The
        connection takes ownership: pass a duplicate if you keep using it.
    timeout_ns : int
        How long to wait for the daemon to answer the registry round trip, ns.

    Raises
    ------
    OSError
        No daemon to connect to (errno from the socket: ENOENT, ECONNREFUSED, ...).
    TimeoutError
        The daemon accepted the connection but did not answer in time.
    """

    cdef Shared *s
    cdef unsigned char *spare
    cdef size_t spare_capacity

    def __cinit__(self):
        cdef pthread_condattr_t attr
        self.s = <Shared *>calloc(1, sizeof(Shared))
        if self.s == NULL:
            raise MemoryError()
        pthread_mutex_init(&self.s.lock, NULL)
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)  # deadlines from monotonic_ns()
        pthread_cond_init(&self.s.changed, &attr)
        pthread_condattr_destroy(&attr)

    def __init__(self, remote=None, int fd=-1, int64_t timeout_ns=2_000_000_000):
        cdef Shared *s = self.s
        cdef pw_properties *props = NULL
        cdef int err = 0
        cdef bytes name = os.fsencode(remote) if remote is not None else None
        core_events.version = PW_VERSION_CORE_EVENTS
        core_events.done = on_core_done
        core_events.error = on_core_error
        registry_events.version = PW_VERSION_REGISTRY_EVENTS
        registry_events.glob = on_global
        registry_events.global_remove = on_global_remove
        s.target_id = PW_ID_ANY
        s.n_slots = 1
        s.loop = pw_thread_loop_new(b"parallax-pw", NULL)
        if s.loop == NULL:
            raise OSError(errno, "pw_thread_loop_new failed")
        s.context = pw_context_new(pw_thread_loop_get_loop(s.loop), NULL, 0)
        if s.context == NULL:
            raise OSError(errno, "pw_context_new failed")
        if pw_thread_loop_start(s.loop) < 0:
            raise OSError(errno, "pw_thread_loop_start failed")
        if name is not None:
            props = pw_properties_new(b"remote.name", <const char *>name, NULL)
        with nogil:
            pw_thread_loop_lock(s.loop)
            if fd >= 0:
                s.core = pw_context_connect_fd(s.context, fd, props, 0)
            else:
                s.core = pw_context_connect(s.context, props, 0)
            if s.core == NULL:
                err = errno
            else:
                pw_core_add_listener(s.core, &s.core_listener, &core_events, s)
                s.registry = pw_core_get_registry(s.core, PW_VERSION_REGISTRY, 0)
                pw_registry_add_listener(
                    s.registry, &s.registry_listener, &registry_events, s
                )
            pw_thread_loop_unlock(s.loop)
        if s.core == NULL:
            raise OSError(err, f"cannot connect to the PipeWire daemon: {os.strerror(err)}")
        self._roundtrip(timeout_ns)

    def _roundtrip(self, int64_t timeout_ns):
        """Wait until the daemon has answered everything asked so far (the registry)."""
        cdef Shared *s = self.s
        cdef timespec deadline
        with nogil:
            deadline_after(&deadline, timeout_ns)
            pw_thread_loop_lock(s.loop)
            s.synced = False
            s.sync_seq = pw_core_sync(s.core, PW_ID_CORE, 0)
            pw_thread_loop_unlock(s.loop)
            pthread_mutex_lock(&s.lock)
            while not s.synced and not s.failed:
                if not wait_changed(s, &deadline):
                    break
            pthread_mutex_unlock(&s.lock)
        self._raise_if_failed()
        if not s.synced:
            raise TimeoutError("the PipeWire daemon did not answer within "
                               f"{timeout_ns / 1e9:.1f} s")

    def _raise_if_failed(self):
        if self.s.failed:
            res = -self.s.error_res if self.s.error_res < 0 else self.s.error_res
            raise OSError(res or EPIPE, self.s.error.decode(errors="replace"))

    def nodes(self):
        """The daemon's nodes now: a list of ``(id, serial, name, media_class, description)``."""
        cdef Shared *s = self.s
        cdef NodeInfo copy[MAX_NODES]
        cdef int n, i
        with nogil:
            pw_thread_loop_lock(s.loop)
            n = s.n_nodes
            memcpy(copy, s.nodes, n * sizeof(NodeInfo))
            pw_thread_loop_unlock(s.loop)
        return [
            (copy[i].id, copy[i].serial, copy[i].name.decode(errors="replace"),
             copy[i].media_class.decode(errors="replace"),
             copy[i].description.decode(errors="replace"))
            for i in range(n)
        ]

    def connect_video(self, uint32_t target_id, dict properties, list formats, sizes=None,
                      framerates=None, int max_buffers=8, bint autoconnect=True):
        """Connect a video capture stream; buffers are handed over from `start` on.

        Parameters
        ----------
        target_id : int
            Node id to link to (a portal node id), or ``PW_ID_ANY`` (0xffffffff).
        properties : dict of str to str
            Stream properties (``target.object``, ``media.role``, ...).
        formats : list of int
            SPA video format ids, preferred first (`VIDEO_FORMATS`).
        sizes, framerates : list of (int, int) or None
            Allowed (width, height) and (num, denom); None: any.
        max_buffers : int
            Slots of the hand-off ring (1 to 64).
        """
        cdef unsigned char pod[POD_BYTES]
        cdef spa_pod_builder builder
        spa_pod_builder_init(&builder, pod, POD_BYTES)
        self._connect(target_id, properties, build_video_formats(&builder, formats, sizes,
                                                                 framerates),
                      max_buffers, autoconnect)

    def connect_audio(self, uint32_t target_id, dict properties, list formats, rates=None,
                      channels=None, int max_buffers=8, bint autoconnect=True):
        """Connect an audio capture stream; see `connect_video`.

        ``formats`` are SPA audio format ids (`AUDIO_FORMATS`); ``rates`` and ``channels``
        lists of allowed values, or None for any.
        """
        cdef unsigned char pod[POD_BYTES]
        cdef spa_pod_builder builder
        spa_pod_builder_init(&builder, pod, POD_BYTES)
        self._connect(target_id, properties, build_audio_formats(&builder, formats, rates,
                                                                 channels),
                      max_buffers, autoconnect)

    cdef _connect(self, uint32_t target_id, dict properties, const spa_pod *format,
                  int max_buffers, bint autoconnect):
        cdef Shared *s = self.s
        cdef pw_properties *props = pw_properties_new(NULL, NULL)
        cdef const spa_pod *params[1]
        cdef int flags = PW_STREAM_FLAG_MAP_BUFFERS | PW_STREAM_FLAG_RT_PROCESS
        cdef int res = 0
        cdef bytes key_bytes, value_bytes
        if s.stream != NULL:
            raise RuntimeError("this Capture already has a stream")
        if not 1 <= max_buffers <= MAX_SLOTS:
            raise ValueError(f"max_buffers must be 1..{MAX_SLOTS}, got {max_buffers}")
        for key, value in properties.items():
            key_bytes, value_bytes = str(key).encode(), str(value).encode()
            pw_properties_set(props, key_bytes, value_bytes)
        if autoconnect:
            flags |= PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_DONT_RECONNECT
        params[0] = format
        stream_events.version = PW_VERSION_STREAM_EVENTS
        stream_events.state_changed = on_state_changed
        stream_events.param_changed = on_param_changed
        stream_events.process = on_process
        with nogil:
            pw_thread_loop_lock(s.loop)
            s.n_slots = max_buffers
            s.target_id = target_id
            s.stream = pw_stream_new(s.core, b"parallax-capture", props)
            if s.stream == NULL:
                res = -errno
            else:
                pw_stream_add_listener(s.stream, &s.stream_listener, &stream_events, s)
                res = pw_stream_connect(s.stream, PW_DIRECTION_INPUT, target_id, flags,
                                        params, 1)
            pw_thread_loop_unlock(s.loop)
        if res < 0:
            raise OSError(-res, f"pw_stream_connect failed: {os.strerror(-res)}")

    def wait_format(self, int64_t timeout_ns):
        """Wait for PipeWire to fix the stream's format.

        Returns
        -------
        tuple
            ``(MEDIA_VIDEO, spa_format, width, height, fps_num, fps_denom)`` or
            ``(MEDIA_AUDIO, spa_format, rate, channels, 0, 0)``; None on timeout.

        Raises
        ------
        OSError
            The connection or the stream failed, or the target node went away.
        """
        cdef Shared *s = self.s
        cdef timespec deadline
        with nogil:
            deadline_after(&deadline, timeout_ns)
            pthread_mutex_lock(&s.lock)
            while not s.format_ready and not s.failed and not s.target_removed:
                if not wait_changed(s, &deadline):
                    break
            pthread_mutex_unlock(&s.lock)
        self._raise_if_failed()
        if s.target_removed:
            raise OSError(2, "the target node was removed")
        if not s.format_ready:
            return None
        if s.media_type == SPA_MEDIA_TYPE_video:
            return (MEDIA_VIDEO, s.video.format, s.video.size.width, s.video.size.height,
                    s.video.framerate.num, s.video.framerate.denom)
        return (MEDIA_AUDIO, s.audio.format, s.audio.rate, s.audio.channels, 0, 0)

    @property
    def state(self):
        """The stream state name: ``unconnected``, ``connecting``, ``paused``, ``streaming``,
        ``error``."""
        return pw_stream_state_as_string(self.s.state).decode()

    def start(self):
        """Start handing buffers over (the ring starts empty, the counters at 0)."""
        cdef Shared *s = self.s
        if s.stream == NULL:
            raise RuntimeError("connect a stream first")
        with nogil:
            pthread_mutex_lock(&s.lock)
            s.head = s.count = 0
            s.dropped_pending = s.dropped = s.unmapped = s.delivered = 0
            s.running = True
            pthread_mutex_unlock(&s.lock)

    def take(self, int64_t timeout_ns):
        """Wait up to ``timeout_ns`` for the next buffer (GIL released).

        Returns
        -------
        Frame or None
            None on timeout or after `cancel`.

        Raises
        ------
        OSError
            The daemon went away (EPIPE), the stream failed, or the target node was removed
            (ENOENT); buffers captured before are delivered first.
        """
        cdef Slot slot
        cdef TakeStatus status
        cdef Shared *s = self.s
        with nogil:
            status = take_slot(s, timeout_ns, &slot, &self.spare, self.spare_capacity)
            if status == TAKE_OK and self.spare == NULL:
                self.spare = <unsigned char *>malloc(slot.capacity)
                self.spare_capacity = slot.capacity if self.spare != NULL else 0
        if status == TAKE_OK:
            return make_frame(&slot)
        if status == TAKE_FAILED:
            self._raise_if_failed()
            raise OSError(2, "the target node was removed")
        return None

    def cancel(self):
        """Make a waiting (or the next) `take` return None at once (any thread)."""
        cdef Shared *s = self.s
        with nogil:
            set_flag(s, &s.cancelled)

    @property
    def stats(self):
        """``(delivered, dropped, unmapped)``: buffers handed over, dropped because the ring
        was full, dropped because their memory was not mapped (DMA-BUF)."""
        return (self.s.delivered, self.s.dropped, self.s.unmapped)

    @cython.boundscheck(False)  # i < count == len(out)
    def _c_take_latencies(self, int count, int64_t timeout_ns):
        """Benchmark baseline: take ``count`` buffers in C, no Python object per buffer.

        Returns an int64 array of ns from each buffer's process callback entry to the moment
        the consumer held it (the same hand-off `take` uses).
        """
        cdef Shared *s = self.s
        cdef Slot slot
        cdef int i
        cdef TakeStatus status = TAKE_OK
        latencies = np.zeros(count, np.int64)
        cdef int64_t[::1] out = latencies
        with nogil:
            for i in range(count):
                status = take_slot(s, timeout_ns, &slot, &self.spare, self.spare_capacity)
                if status != TAKE_OK:
                    break
                out[i] = monotonic_ns() - slot.process_ns
                if self.spare == NULL:
                    self.spare = slot.data  # reuse: nothing keeps it
                    self.spare_capacity = slot.capacity
                else:
                    free(slot.data)
        if status != TAKE_OK:
            raise TimeoutError(f"only {i} of {count} buffers arrived")
        return latencies

    def close(self):
        """Stop the loop, destroy the stream and disconnect (idempotent)."""
        cdef Shared *s = self.s
        cdef int i
        if s == NULL or s.loop == NULL:
            return
        with nogil:
            pw_thread_loop_stop(s.loop)
            if s.stream != NULL:
                pw_stream_destroy(s.stream)
                s.stream = NULL
            if s.registry != NULL:
                pw_proxy_destroy(<pw_proxy *>s.registry)
                s.registry = NULL
            if s.core != NULL:
                pw_core_disconnect(s.core)
                s.core = NULL
            if s.context != NULL:
                pw_context_destroy(s.context)
                s.context = NULL
            pw_thread_loop_destroy(s.loop)
            s.loop = NULL
            for i in range(MAX_SLOTS):
                free(s.slots[i].data)
                s.slots[i].data = NULL
                s.slots[i].capacity = 0
            free(self.spare)
            self.spare = NULL
            self.spare_capacity = 0

    def __dealloc__(self):
        if self.s != NULL:
            self.close()
            pthread_cond_destroy(&self.s.changed)
            pthread_mutex_destroy(&self.s.lock)
            free(self.s)
            self.s = NULL


# -- test helpers: drive the extraction with buffers built in C memory -----------------------

def _extract(list metas, bytes data, uint32_t maxsize, uint32_t chunk_offset,
             uint32_t chunk_size, int stride=0):
    """Build a spa_buffer in C memory and run the capture path's extraction on it.

    Parameters
    ----------
    metas : list of (int, bytes)
        ``(meta type, raw bytes)`` for each spa_meta, in order.
    data : bytes
        The plane's memory (its ``maxsize`` is ``maxsize``; ``len(data) >= maxsize``).
    chunk_offset, chunk_size, stride : int
        The chunk as a producer would set it.

    Returns
    -------
    (header, payload) : (tuple or None, bytes or None)
        ``(flags, offset, pts, dts_offset, seq)`` of the header found, and the bytes copied
        (None when the extraction refused the buffer).
    """
    cdef spa_buffer buffer
    cdef spa_data plane
    cdef spa_chunk chunk
    cdef Slot slot
    cdef spa_meta *meta_array = NULL
    cdef int i, status
    if len(data) < maxsize:
        raise ValueError("data must hold maxsize bytes")
    memset(&slot, 0, sizeof(Slot))
    meta_array = <spa_meta *>calloc(max(1, len(metas)), sizeof(spa_meta))
    kept = [bytes(raw) for _, raw in metas]  # keep the bytes alive while C points into them
    for i in range(len(metas)):
        meta_array[i].type = metas[i][0]
        meta_array[i].size = PyBytes_GET_SIZE(kept[i])
        meta_array[i].data = PyBytes_AS_STRING(kept[i])
    chunk.offset, chunk.size, chunk.stride, chunk.flags = chunk_offset, chunk_size, stride, 0
    plane.type = SPA_DATA_MemPtr
    plane.flags = 0
    plane.fd = -1
    plane.mapoffset = 0
    plane.maxsize = maxsize
    plane.data = PyBytes_AS_STRING(data) if maxsize > 0 else NULL
    plane.chunk = &chunk
    buffer.n_metas = len(metas)
    buffer.metas = meta_array
    buffer.n_datas = 1
    buffer.datas = &plane
    try:
        status = fill_slot(&buffer, &slot)
        header = None
        if slot.has_header:
            header = (slot.header.flags, slot.header.offset, slot.header.pts,
                      slot.header.dts_offset, slot.header.seq)
        payload = slot.data[:slot.size] if status == 0 else None
        return header, payload
    finally:
        free(meta_array)
        free(slot.data)


def _pack_header(uint32_t flags, uint32_t offset, int64_t pts, int64_t dts_offset,
                 uint64_t seq):
    """The bytes of a ``struct spa_meta_header`` as the C compiler lays it out."""
    cdef spa_meta_header header
    memset(&header, 0, sizeof(header))
    header.flags, header.offset, header.pts = flags, offset, pts
    header.dts_offset, header.seq = dts_offset, seq
    return (<char *>&header)[:sizeof(header)]
