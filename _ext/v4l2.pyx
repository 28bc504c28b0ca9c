# V4L2 streaming I/O: request, map, queue and dequeue driver buffers (one thin ioctl each).
#
# `Stream` owns the driver buffers of one capture queue: their mappings (munmap'd when the
# last reference goes, so a numpy view can never outlive its memory), their DMA-BUF fds, and
# an eventfd that wakes a blocked `dequeue`. `MappedBuffer` is one dequeued buffer lent to
# Python: it exports the mapping through the buffer protocol (numpy views it, zero copy) and
# queues the buffer back to the driver when it is deallocated, i.e. when the last view of it
# is gone. The device fd belongs to the caller; `stop` must run before it is closed.
cimport cython
from cpython.buffer cimport PyBUF_FORMAT
from libc.errno cimport EAGAIN, EINTR, errno
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset
from posix.mman cimport MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE, mmap, munmap
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec
from posix.unistd cimport close, read, write

from videodev2 cimport (
    V4L2_BUF_TYPE_VIDEO_CAPTURE,
    V4L2_MEMORY_MMAP,
    VIDIOC_DQBUF,
    VIDIOC_EXPBUF,
    VIDIOC_QBUF,
    VIDIOC_QUERYBUF,
    VIDIOC_REQBUFS,
    VIDIOC_STREAMOFF,
    VIDIOC_STREAMON,
    v4l2_buffer,
    v4l2_exportbuffer,
    v4l2_requestbuffers,
)

import os


cdef extern from "<sys/ioctl.h>" nogil:
    int ioctl(int fd, unsigned long request, ...)

cdef extern from "<poll.h>" nogil:
    cdef struct pollfd:
        int fd
        short events
        short revents
    int poll(pollfd *fds, unsigned long nfds, int timeout)
    const short POLLIN
    const short POLLERR
    const short POLLHUP
    const short POLLNVAL

cdef extern from "<sys/mman.h>" nogil:
    # Linux; Python.h defines _GNU_SOURCE, which declares it
    void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
    const int MREMAP_MAYMOVE
    const int MREMAP_FIXED
    const int MAP_PRIVATE
    const int MAP_ANONYMOUS

cdef extern from "<string.h>" nogil:
    void *memcpy(void *dest, const void *src, size_t n)

cdef extern from "<sys/eventfd.h>" nogil:
    int eventfd(unsigned int initval, int flags)
    const int EFD_CLOEXEC
    const int EFD_NONBLOCK

cdef extern from "<fcntl.h>" nogil:
    const int O_CLOEXEC
    const int O_RDWR

cdef int64_t SECOND = 1_000_000_000

# _dequeue results besides 0 (a buffer) and -errno
cdef enum:
    TIMED_OUT = 1
    WOKEN = 2


cdef inline int64_t _monotonic_ns() noexcept nogil:
    cdef timespec now
    clock_gettime(CLOCK_MONOTONIC, &now)
    return <int64_t>now.tv_sec * SECOND + now.tv_nsec


cdef int _xioctl(int fd, unsigned long request, void *arg) noexcept nogil:
    """ioctl, retried on EINTR; 0 or -errno."""
    while ioctl(fd, request, arg) < 0:
        if errno != EINTR:
            return -errno
    return 0


cdef int _dequeue(
    int fd, int wake_fd, int64_t timeout_ns, v4l2_buffer *buf, int64_t *dequeued
) noexcept nogil:
    """Wait up to timeout_ns for a filled buffer and dequeue it: 0, TIMED_OUT, WOKEN or -errno.

    ``dequeued`` gets CLOCK_MONOTONIC (ns) right after VIDIOC_DQBUF returned.
    """
    cdef pollfd fds[2]
    cdef int64_t deadline = _monotonic_ns() + timeout_ns
    cdef int64_t left
    cdef int ready
    cdef uint64_t count
    fds[0].fd = fd
    fds[0].events = POLLIN
    fds[1].fd = wake_fd
    fds[1].events = POLLIN
    while True:
        left = deadline - _monotonic_ns()
        if left < 0:
            left = 0
        # round up to whole ms so a short timeout still waits, and cap what an int holds
        ready = poll(fds, 2, <int>min((left + 999_999) // 1_000_000, 1 << 30))
        if ready < 0:
            if errno == EINTR:
                continue
            return -errno
        if fds[1].revents:
            read(wake_fd, &count, sizeof(count))
            return WOKEN
        if ready == 0:
            if left == 0:
                return TIMED_OUT
            continue
        memset(buf, 0, sizeof(v4l2_buffer))
        buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE
        buf.memory = V4L2_MEMORY_MMAP
        if ioctl(fd, VIDIOC_DQBUF, buf) == 0:
            dequeued[0] = _monotonic_ns()
            return 0
        if errno == EINTR or (
            errno == EAGAIN and not fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)
        ):
            continue  # a signal, or readable but taken by another reader: wait again
        return -errno  # (EAGAIN with POLLERR: nothing queued or not streaming; never spin)


cdef int _detach(void *address, size_t length) noexcept nogil:
    """Replace the mapping at ``address`` by private anonymous memory with the same bytes, in
    one step (mremap over it), so concurrent readers never see anything else. 0 or -1.
    """
    cdef void *copy = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0)
    if copy == MAP_FAILED:
        return -1
    memcpy(copy, address, length)
    if mremap(copy, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, address) == MAP_FAILED:
        munmap(copy, length)
        return -1
    return 0


cdef object _error(int negative_errno, str what):
    code = -negative_errno
    return OSError(code, f"{what}: {os.strerror(code)}")


@cython.no_gc_clear  # MappedBuffer.__dealloc__ needs its stream; keep the reference to the end
@cython.final
cdef class Stream:
    """The MMAP buffers of one V4L2 capture queue (``V4L2_BUF_TYPE_VIDEO_CAPTURE``).

    Parameters
    ----------
    fd : int
        An open V4L2 capture device (``O_NONBLOCK`` recommended). The caller keeps owning it:
        call `stop` before closing it.

    Attributes
    ----------
    count : int
        Buffers granted by the driver (`request`).
    queued : int
        Buffers currently with the driver.
    leased : int
        Buffers lent out as `MappedBuffer` and not yet released.
    streaming : bool
        Between `start` and `stop`.
    requeue_errno : int
        The errno of the first failed queue-back of a released buffer (0: none); such a buffer
        is lost to the stream, so callers check this after each dequeue.
    """

    cdef int fd
    cdef int wake_fd
    cdef readonly unsigned int count
    cdef readonly unsigned int queued
    cdef readonly unsigned int leased
    cdef readonly bint streaming
    cdef readonly int requeue_errno
    cdef void **addresses
    cdef size_t *lengths
    cdef int *dmabuf_fds
    cdef bint *with_driver
    cdef bint *lent

    def __cinit__(self, int fd):
        self.fd = fd
        self.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
        if self.wake_fd < 0:
            raise _error(-errno, "eventfd")

    def __dealloc__(self):
        cdef unsigned int i
        for i in range(self.count):
            if self.addresses != NULL and self.addresses[i] != NULL:
                munmap(self.addresses[i], self.lengths[i])
            if self.dmabuf_fds != NULL and self.dmabuf_fds[i] >= 0:
                close(self.dmabuf_fds[i])
        free(self.addresses)
        free(self.lengths)
        free(self.dmabuf_fds)
        free(self.with_driver)
        free(self.lent)
        if self.wake_fd >= 0:
            close(self.wake_fd)

    def request(self, unsigned int count, bint export=False):
        """Request ``count`` MMAP buffers (VIDIOC_REQBUFS), map each (VIDIOC_QUERYBUF, mmap)
        and, with ``export``, export each as a DMA-BUF fd (VIDIOC_EXPBUF).

        Returns
        -------
        int
            The number of buffers the driver granted (it may give more or fewer).

        Raises
        ------
        OSError
            With the errno of the failing call (EBUSY: another file handle owns the queue).
        """
        cdef v4l2_requestbuffers req
        cdef v4l2_buffer buf
        cdef v4l2_exportbuffer exp
        cdef unsigned int i
        cdef int status
        cdef void *address
        if self.count:
            raise RuntimeError("buffers were already requested on this stream")
        memset(&req, 0, sizeof(req))
        req.count = count
        req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE
        req.memory = V4L2_MEMORY_MMAP
        status = _xioctl(self.fd, VIDIOC_REQBUFS, &req)
        if status < 0:
            raise _error(status, "VIDIOC_REQBUFS")
        if req.count == 0:
            raise OSError(0, "VIDIOC_REQBUFS granted no buffers")
        self.addresses = <void **>calloc(req.count, sizeof(void *))
        self.lengths = <size_t *>calloc(req.count, sizeof(size_t))
        self.dmabuf_fds = <int *>calloc(req.count, sizeof(int))
        self.with_driver = <bint *>calloc(req.count, sizeof(bint))
        self.lent = <bint *>calloc(req.count, sizeof(bint))
        if not (self.addresses and self.lengths and self.dmabuf_fds and self.with_driver
                and self.lent):
            raise MemoryError()
        for i in range(req.count):
            self.dmabuf_fds[i] = -1
        for i in range(req.count):
            memset(&buf, 0, sizeof(buf))
            buf.index = i
            buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE
            buf.memory = V4L2_MEMORY_MMAP
            status = _xioctl(self.fd, VIDIOC_QUERYBUF, &buf)
            if status < 0:
                raise _error(status, f"VIDIOC_QUERYBUF {i}")
            address = mmap(NULL, buf.length, PROT_READ | PROT_WRITE, MAP_SHARED, self.fd,
                           buf.m.offset)
            if address == MAP_FAILED:
                raise _error(-errno, f"mmap of buffer {i}")
            self.addresses[i] = address
            self.lengths[i] = buf.length
            self.count = i + 1  # what __dealloc__ unmaps, even if a later one fails
            if export:
                memset(&exp, 0, sizeof(exp))
                exp.type = V4L2_BUF_TYPE_VIDEO_CAPTURE
                exp.index = i
                exp.flags = O_CLOEXEC | O_RDWR
                status = _xioctl(self.fd, VIDIOC_EXPBUF, &exp)
                if status < 0:
                    raise _error(status, f"VIDIOC_EXPBUF {i}")
                self.dmabuf_fds[i] = exp.fd
        return self.count

    def queue(self, unsigned int index):
        """Give buffer ``index`` to the driver to fill (VIDIOC_QBUF)."""
        self._check(index)
        status = self._queue(index)
        if status < 0:
            raise _error(status, f"VIDIOC_QBUF {index}")

    cdef int _queue(self, unsigned int index) noexcept:
        cdef v4l2_buffer buf
        cdef int status
        memset(&buf, 0, sizeof(buf))
        buf.index = index
        buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE
        buf.memory = V4L2_MEMORY_MMAP
        status = _xioctl(self.fd, VIDIOC_QBUF, &buf)
        if status == 0:
            self.with_driver[index] = True
            self.queued += 1
        return status

    def start(self):
        """Start capturing (VIDIOC_STREAMON); queue buffers first."""
        cdef int kind = V4L2_BUF_TYPE_VIDEO_CAPTURE
        status = _xioctl(self.fd, VIDIOC_STREAMON, &kind)
        if status < 0:
            raise _error(status, "VIDIOC_STREAMON")
        self.streaming = True

    def stop(self):
        """Stop capturing (VIDIOC_STREAMOFF) and let go of the device's memory.

        Buffers not lent out are unmapped. Each buffer still lent out is moved, at the same
        address, to private memory holding a copy of its frame: its views stay valid and
        unchanged, it is never queued again, and no mapping keeps the device file open (a
        mapping would: the device would stay busy while the application keeps frames).
        Safe to call twice.
        """
        cdef int kind = V4L2_BUF_TYPE_VIDEO_CAPTURE
        cdef unsigned int i
        cdef int status = 0
        if self.streaming:
            self.streaming = False
            status = _xioctl(self.fd, VIDIOC_STREAMOFF, &kind)
        for i in range(self.count):
            self.with_driver[i] = False
            # (an exported buffer's memory lives on in its dma-buf fd, which stays open until
            # the stream is deallocated: that reference is on the memory, not the device file)
            if self.addresses[i] != NULL:
                if self.lent[i]:
                    if _detach(self.addresses[i], self.lengths[i]) < 0:
                        raise _error(-errno, f"moving lent buffer {i} to private memory")
                else:
                    munmap(self.addresses[i], self.lengths[i])
                    self.addresses[i] = NULL
        self.queued = 0
        if status < 0:
            raise _error(status, "VIDIOC_STREAMOFF")

    def dequeue(self, int64_t timeout):
        """Wait up to ``timeout`` ns (GIL released) for a filled buffer and dequeue it.

        Returns
        -------
        tuple or None
            ``(index, bytesused, flags, sequence, timestamp, field, dequeued)``: the
            ``v4l2_buffer`` fields, ``timestamp`` in ns in the clock domain ``flags`` names
            (``V4L2_BUF_FLAG_TIMESTAMP_*``), and ``dequeued`` = CLOCK_MONOTONIC ns right after
            VIDIOC_DQBUF returned. None when ``timeout`` passed without a buffer.

        Raises
        ------
        InterruptedError
            `wake` was called (before or during the wait).
        OSError
            VIDIOC_DQBUF or poll failed (ENODEV: the device went away; EINVAL: not streaming).
        """
        cdef v4l2_buffer buf
        cdef int64_t dequeued = 0
        cdef int status
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0 ns, got {timeout}")
        if self.streaming and self.queued == 0:
            raise RuntimeError(
                f"no buffer is queued with the driver: all {self.count} are lent out"
            )
        with nogil:
            status = _dequeue(self.fd, self.wake_fd, timeout, &buf, &dequeued)
        if status == TIMED_OUT:
            return None
        if status == WOKEN:
            raise InterruptedError("the stream was woken")
        if status < 0:
            raise _error(status, "VIDIOC_DQBUF")
        if buf.index < self.count and self.with_driver[buf.index]:
            self.with_driver[buf.index] = False
            self.queued -= 1
        return (
            buf.index,
            buf.bytesused,
            buf.flags,
            buf.sequence,
            <int64_t>buf.timestamp.tv_sec * SECOND + <int64_t>buf.timestamp.tv_usec * 1000,
            buf.field,
            dequeued,
        )

    def lease(self, unsigned int index):
        """Lend dequeued buffer ``index`` to Python as a `MappedBuffer` (zero copy); it goes
        back to the driver when the `MappedBuffer` is deallocated.
        """
        self._check(index)
        if self.with_driver[index] or self.lent[index]:
            raise ValueError(f"buffer {index} is queued with the driver or already lent")
        if self.addresses[index] == NULL:
            raise ValueError(f"buffer {index} was released (the stream stopped)")
        cdef MappedBuffer lent = MappedBuffer.__new__(MappedBuffer)
        lent.stream = self
        lent.index = index
        lent.address = <char *>self.addresses[index]
        lent.shape[0] = <Py_ssize_t>self.lengths[index]
        lent.strides[0] = 1
        self.leased += 1
        self.lent[index] = True
        return lent

    cdef void _give_back(self, unsigned int index) noexcept:
        cdef int status
        self.leased -= 1
        self.lent[index] = False
        if self.streaming and not self.with_driver[index]:
            status = self._queue(index)
            if status < 0 and self.requeue_errno == 0:
                self.requeue_errno = -status

    def wake(self):
        """Make the current or next `dequeue` raise InterruptedError (any thread)."""
        cdef uint64_t one = 1
        write(self.wake_fd, &one, sizeof(one))

    def length(self, unsigned int index):
        """Bytes mapped for buffer ``index``."""
        self._check(index)
        return self.lengths[index]

    def dmabuf_fd(self, unsigned int index):
        """The DMA-BUF fd of buffer ``index`` (-1 unless requested with ``export``); owned by
        this stream and valid while it lives: ``os.dup`` it to keep it longer.
        """
        self._check(index)
        return self.dmabuf_fds[index]

    cdef void _check(self, unsigned int index) except *:
        if index >= self.count:
            raise IndexError(f"buffer {index} out of range (the stream has {self.count})")


@cython.no_gc_clear  # __dealloc__ gives the buffer back through self.stream
@cython.final
cdef class MappedBuffer:
    """One dequeued V4L2 buffer lent to Python (from `Stream.lease`).

    It exports the whole mapped buffer (bytes, writable) through the buffer protocol:
    ``numpy.ndarray(shape, dtype, buffer=mapped, strides=...)`` views it without copying and
    keeps it alive. When the last reference (and view) goes, the buffer is queued back to the
    driver, unless the stream stopped meanwhile.
    """

    cdef Stream stream
    cdef readonly unsigned int index
    cdef char *address
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __cinit__(self):
        self.stream = None

    def __dealloc__(self):
        if self.stream is not None:
            self.stream._give_back(self.index)

    @property
    def dmabuf_fd(self):
        """The buffer's DMA-BUF fd, or -1 (see `Stream.dmabuf_fd`)."""
        return self.stream.dmabuf_fds[self.index]

    def __len__(self):
        return self.shape[0]

    def __getbuffer__(self, Py_buffer *view, int flags):
        view.buf = self.address
        view.obj = self
        view.len = self.shape[0]
        view.readonly = 0
        view.itemsize = 1
        view.format = NULL
        if flags & PyBUF_FORMAT:
            view.format = b"B"
        view.ndim = 1
        view.shape = self.shape
        view.strides = self.strides
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer *view):
        pass
