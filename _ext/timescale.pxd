# Extern declarations of _ext/timescale.h: exact int64 time arithmetic with 128-bit
# intermediates. The C compiler sees the real header, so nothing here can drift from it.
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int64_t, uint64_t

cdef extern from "timescale.h" nogil:
    int PX_OK
    int PX_OVERFLOW

    int px_scale(int64_t value, int64_t num, int64_t denom, int64_t *out)
    int px_scale_add(int64_t value, int64_t num, int64_t denom, int64_t base, int64_t *out)

    ctypedef struct px_scaler:
        pass
    bint px_scaler_fits(int64_t num, int64_t denom)
    px_scaler px_scaler_make(int64_t num, int64_t denom)
    int px_scaler_apply(const px_scaler *s, int64_t value, int64_t base, int64_t *out)

    ctypedef struct px_array_scaler:
        pass
    px_array_scaler px_array_scaler_make(
        int64_t num, int64_t denom, int64_t base, int64_t lo, int64_t hi
    )
    int px_scale_add_fast(
        const px_array_scaler *s, const int64_t *values, int64_t *out, ptrdiff_t n
    )
    ptrdiff_t px_scale_add_array(
        const px_array_scaler *s, const int64_t *values, int64_t *out, ptrdiff_t n
    )
    ptrdiff_t px_durations(const int64_t *pts, int64_t *out, ptrdiff_t n, int64_t nominal)

    int px_muladd(int64_t a, int64_t k, int64_t b, int64_t *out)
    int px_add(int64_t a, int64_t b, int64_t *out)
    int px_sub(int64_t a, int64_t b, int64_t *out)
    int px_mul(int64_t a, int64_t b, int64_t *out)
