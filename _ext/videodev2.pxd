# Extern declarations of the V4L2 streaming API: only the fields we use. The C compiler reads
# the real <linux/videodev2.h>, so struct layouts and ioctl numbers cannot drift from the kernel's.
from libc.stdint cimport int32_t, uint32_t


cdef extern from "<sys/time.h>" nogil:
    cdef struct timeval:
        long tv_sec
        long tv_usec


cdef extern from "<linux/videodev2.h>" nogil:
    # ioctl request numbers are unsigned long macros
    const unsigned long VIDIOC_REQBUFS
    const unsigned long VIDIOC_QUERYBUF
    const unsigned long VIDIOC_QBUF
    const unsigned long VIDIOC_DQBUF
    const unsigned long VIDIOC_EXPBUF
    const unsigned long VIDIOC_STREAMON
    const unsigned long VIDIOC_STREAMOFF

    const uint32_t V4L2_BUF_TYPE_VIDEO_CAPTURE
    const uint32_t V4L2_MEMORY_MMAP

    cdef struct v4l2_requestbuffers:
        uint32_t count
        uint32_t type
        uint32_t memory

    # the anonymous union `m` of struct v4l2_buffer; Cython only emits its member accesses
    cdef union _v4l2_buffer_location:
        uint32_t offset
        int32_t fd

    cdef struct v4l2_buffer:
        uint32_t index
        uint32_t type
        uint32_t bytesused
        uint32_t flags
        uint32_t field
        timeval timestamp
        uint32_t sequence
        uint32_t memory
        _v4l2_buffer_location m
        uint32_t length

    cdef struct v4l2_exportbuffer:
        uint32_t type
        uint32_t index
        uint32_t plane
        uint32_t flags
        int32_t fd
