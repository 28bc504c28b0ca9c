# Polyphase windowed-sinc interpolation at explicit input positions: the kernel behind
# `parallax.resample.StreamResampler` and the `audioresample` element.
#
# Output sample k is the band-limited input evaluated at input position p_k = pos + k * step
# (in input samples, relative to the first frame of `x`). With i = floor(p_k) and
# frac = p_k - i, it is the dot product of the `taps` input frames x[i - half + 1 ..
# i + half] with the filter sampled at offsets (j - half + 1 - frac). The filter is tabulated
# at `phases` + 1 fractions (row `phases` is row 0 shifted by one tap) and interpolated
# linearly between the two rows around frac. The caller owns the positions, so it knows
# exactly which input instant every output sample stands for: that is what keeps resampled
# audio on time (a library that hides its position can only be steered by counting).
cimport cython
from libc.math cimport floor

import numpy as np


cdef inline float _dot(const float *coef, const float *x, Py_ssize_t taps) noexcept nogil:
    # Eight partial sums break the add chain so the loop vectorizes without -ffast-math
    # (taps is a multiple of 4; a tail of 4 is summed apart).
    cdef float acc[8]
    cdef Py_ssize_t j, m
    for m in range(8):
        acc[m] = 0.0
    for j in range(0, taps - taps % 8, 8):
        for m in range(8):
            acc[m] = acc[m] + coef[j + m] * x[j + m]
    if taps % 8:
        for m in range(4):
            acc[m] = acc[m] + coef[taps - 4 + m] * x[taps - 4 + m]
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


@cython.boundscheck(False)  # every index is inside x / table / out: checked by resample_block
@cython.wraparound(False)  # no negative indices
cdef void _resample(
    const float[:, ::1] x,
    const float[:, ::1] table,
    double pos,
    double step,
    float[:, ::1] out,
    float[::1] coef,
    float[::1] column,
) noexcept nogil:
    cdef Py_ssize_t n_out = out.shape[0], channels = x.shape[1]
    cdef Py_ssize_t taps = table.shape[1], phases = table.shape[0] - 1
    cdef Py_ssize_t half = taps // 2
    cdef Py_ssize_t k, j, c, i, row
    cdef double p, frac, ph
    cdef float f
    cdef const float *t0
    cdef const float *t1
    cdef const float *xp
    cdef float *cp = &coef[0]
    cdef float *colp = &column[0]
    for k in range(n_out):
        p = pos + k * step
        i = <Py_ssize_t>floor(p)
        frac = p - i
        ph = frac * phases
        row = <Py_ssize_t>ph
        if row >= phases:  # frac rounded up to 1.0
            row = phases - 1
        f = <float>(ph - row)
        t0 = &table[row, 0]
        t1 = t0 + taps
        for j in range(taps):  # interpolated coefficients: no reduction, vectorizes
            cp[j] = t0[j] + f * (t1[j] - t0[j])
        xp = &x[i - half + 1, 0]
        if channels == 1:
            out[k, 0] = _dot(cp, xp, taps)
        else:
            for c in range(channels):
                for j in range(taps):  # gather one channel: contiguous for _dot
                    colp[j] = xp[j * channels + c]
                out[k, c] = _dot(cp, colp, taps)


def resample_block(
    const float[:, ::1] x, const float[:, ::1] table, double pos, double step, Py_ssize_t n_out
):
    """Evaluate ``x`` (frames x channels, float32) at ``pos + k * step``, k < ``n_out``.

    ``table`` is (phases + 1) x taps float32, taps a multiple of 4. Every position must have
    its whole filter span inside ``x``: ``floor(p) - taps/2 + 1 >= 0`` and
    ``floor(p) + taps/2 < len(x)`` (ValueError otherwise). Releases the GIL.
    """
    cdef Py_ssize_t taps = table.shape[1], half = taps // 2
    cdef double last
    if taps < 4 or taps % 4 or table.shape[0] < 2:
        raise ValueError(f"table must be (phases + 1) x taps with taps a multiple of 4, "
                         f"got {table.shape[0]} x {taps}")
    if n_out < 0 or not step > 0.0:
        raise ValueError(f"need n_out >= 0 and step > 0, got {n_out} and {step}")
    out = np.empty((n_out, x.shape[1]), dtype=np.float32)
    if n_out == 0:
        return out
    last = pos + (n_out - 1) * step
    if not (floor(pos) - half + 1 >= 0 and floor(last) + half < x.shape[0]):
        raise ValueError(f"positions {pos}..{last} need frames outside x (len {x.shape[0]}, "
                         f"{taps} taps)")
    cdef float[:, ::1] out_view = out
    cdef float[::1] coef = np.empty(taps, dtype=np.float32)
    cdef float[::1] column = np.empty(taps, dtype=np.float32)
    with nogil:
        _resample(x, table, pos, step, out_view, coef, column)
    return out
