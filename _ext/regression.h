/* The per-window step of sliding_regression (_ext/drift.pyx), in C so that it gets a copy per
 * instruction set (PX_VECTOR_CLONES): the windows are independent, and with the prefix sums
 * laid out as four arrays the loop is contiguous and vectorizes, divisions included. */
#ifndef PARALLAX_REGRESSION_H
#define PARALLAX_REGRESSION_H

#include <stddef.h>

#include "timescale.h"

/* Least-squares line of each window k in [0, count) of one block, from prefix sums of dx, dy,
 * dx^2, dx*dy over the block's points (relative to its first point, whose y is y_ref).
 * degenerate[k] is set where the x spread is too small next to the x offset for the
 * one-pass formula (the caller recomputes those windows two-pass); the result says whether
 * any is, so that the caller scans the flags only then. */
PX_VECTOR_CLONES
static int px_block_windows(
    const double *restrict psx, const double *restrict psy, const double *restrict psxx,
    const double *restrict psxy, const double *restrict dx, ptrdiff_t count, ptrdiff_t window,
    double y_ref, double *restrict slope, double *restrict intercept,
    unsigned char *restrict degenerate)
{
    const double n = (double)window, inv_n = 1.0 / (double)window;
    unsigned char any = 0;
    for (ptrdiff_t k = 0; k < count; k++) {
        double sx = psx[k + window] - psx[k];
        double sy = psy[k + window] - psy[k];
        double sxx = psxx[k + window] - psxx[k];
        double sxy = psxy[k + window] - psxy[k];
        double den = n * sxx - sx * sx;
        double m = (n * sxy - sx * sy) / den; /* IEEE: inf or NaN when den is 0, redone */
        slope[k] = m;
        /* the line's value at x[k]: mean + m * (x[k] - mean), relative to the reference */
        intercept[k] = y_ref + (sy * inv_n + m * (dx[k] - sx * inv_n));
        degenerate[k] = !(den > 1e-6 * n * sxx);
        any |= degenerate[k];
    }
    return any;
}

/* Whether an int64 array spans less than 2^63 (so that any difference of two of its values
 * fits int64): one pass for both extremes, vectorized (numpy's min() and max() are two
 * passes), the span compared unsigned, where max - min cannot overflow. */
PX_VECTOR_CLONES
static int px_spans_below_2_63(const int64_t *restrict values, ptrdiff_t count)
{
    int64_t low = INT64_MAX, high = INT64_MIN;
    for (ptrdiff_t i = 0; i < count; i++) {
        low = values[i] < low ? values[i] : low;
        high = values[i] > high ? values[i] : high;
    }
    return count == 0 || (uint64_t)high - (uint64_t)low < ((uint64_t)1 << 63);
}

#endif
