# Pixel-format conversion kernels that measure faster than swscale on the path every encode
# of an RGB-family source takes (test patterns, screen capture's BGRx, RGB cameras): packed
# RGB -> I420. benchmarks/bench_convert.py compares them with swscale in the same run;
# videoconvert uses swscale for every other pair. The loops are in C (yuv.h); the `def`
# checks nothing: parallax/elements/transform/frames.py does.
cimport cython
from libc.stdint cimport uint8_t


cdef extern from "yuv.h" nogil:
    ctypedef void (*px_rgb_rows_fn)(
        const uint8_t *top, const uint8_t *bottom, Py_ssize_t width,
        uint8_t *y_top, uint8_t *y_bottom, uint8_t *u, uint8_t *v,
    )
    px_rgb_rows_fn px_rgb_rows_for(int layout)


@cython.boundscheck(False)  # rows < height, even; the caller checks the shapes
@cython.wraparound(False)  # no negative indices
def rgb_to_i420(const uint8_t[:, :, ::1] rgb, uint8_t[:, ::1] out, int layout):
    """rgb_to_i420(rgb, out, layout): packed (height, width, 3 or 4) pixels of one layout
    (0 RGB, 1 BGR, 2 RGBx, 3 BGRx) -> I420 (height * 3 // 2, width) written into ``out``.
    Height and width must be even; shapes and the layout are checked by the caller."""
    cdef Py_ssize_t height = rgb.shape[0], width = rgb.shape[1], row
    cdef px_rgb_rows_fn rows = px_rgb_rows_for(layout)
    cdef uint8_t *y_plane = &out[0, 0]
    cdef uint8_t *u_plane = y_plane + height * width
    cdef uint8_t *v_plane = u_plane + (height // 2) * (width // 2)
    with nogil:
        for row in range(0, height, 2):
            rows(
                &rgb[row, 0, 0], &rgb[row + 1, 0, 0], width,
                y_plane + row * width, y_plane + (row + 1) * width,
                u_plane + (row // 2) * (width // 2), v_plane + (row // 2) * (width // 2),
            )
