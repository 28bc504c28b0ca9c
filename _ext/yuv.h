/* Packed RGB -> I420 (BT.601, limited range) for _ext/convert.pyx: the conversion every
 * encode of a test, screen or RGB camera source needs. Fixed point with 16 fraction bits;
 * chroma from the average of each 2x2 block (swscale's AREA), rounded to nearest. In C so
 * that it gets a copy per instruction set (PX_VECTOR_CLONES), and one per byte layout: with
 * the pixel step and colour offsets constant the compiler vectorizes the strided loads. */
#ifndef PARALLAX_YUV_H
#define PARALLAX_YUV_H

#include <stddef.h>
#include <stdint.h>

#include "timescale.h"

/* BT.601 limited range (219/255 and 224/255 of full scale) x 2^16, rounded; green takes
 * the rounding remainder of each chroma row so that grey has exactly no colour */
#define PX_YR 16829
#define PX_YG 33039
#define PX_YB 6416
#define PX_UR (-9714)
#define PX_UG (-19070)
#define PX_UB 28784
#define PX_VR 28784
#define PX_VG (-24103)
#define PX_VB (-4681)

#define PX_LUMA(r, g, b) ((uint8_t)(16 + ((PX_YR * (r) + PX_YG * (g) + PX_YB * (b) + 32768) >> 16)))

/* One layout: STEP bytes a pixel, red/green/blue at offsets R, G, B. Two rows (top, bottom)
 * of `width` pixels (even) -> two rows of Y and one row each of U and V. */
#define PX_DEFINE_RGB_ROWS(NAME, STEP, R, G, B)                                               \
    PX_VECTOR_CLONES                                                                          \
    static void NAME(const uint8_t *restrict top, const uint8_t *restrict bottom,            \
                     ptrdiff_t width, uint8_t *restrict y_top, uint8_t *restrict y_bottom,    \
                     uint8_t *restrict u, uint8_t *restrict v)                                \
    {                                                                                         \
        for (ptrdiff_t i = 0; i < width; i++) {                                               \
            const uint8_t *p = top + i * STEP, *q = bottom + i * STEP;                        \
            y_top[i] = PX_LUMA((int32_t)p[R], (int32_t)p[G], (int32_t)p[B]);                  \
            y_bottom[i] = PX_LUMA((int32_t)q[R], (int32_t)q[G], (int32_t)q[B]);               \
        }                                                                                     \
        for (ptrdiff_t k = 0; k < width / 2; k++) {                                           \
            const uint8_t *p = top + 2 * k * STEP, *q = bottom + 2 * k * STEP;                \
            int32_t rs = (int32_t)p[R] + p[STEP + R] + q[R] + q[STEP + R];                    \
            int32_t gs = (int32_t)p[G] + p[STEP + G] + q[G] + q[STEP + G];                    \
            int32_t bs = (int32_t)p[B] + p[STEP + B] + q[B] + q[STEP + B];                    \
            /* sums of four: 18 fraction bits; the arithmetic shift floors, +2^17 rounds */   \
            u[k] = (uint8_t)(128 + ((PX_UR * rs + PX_UG * gs + PX_UB * bs + 131072) >> 18));  \
            v[k] = (uint8_t)(128 + ((PX_VR * rs + PX_VG * gs + PX_VB * bs + 131072) >> 18));  \
        }                                                                                     \
    }

PX_DEFINE_RGB_ROWS(px_rgb_rows_to_i420, 3, 0, 1, 2)
PX_DEFINE_RGB_ROWS(px_bgr_rows_to_i420, 3, 2, 1, 0)
PX_DEFINE_RGB_ROWS(px_rgbx_rows_to_i420, 4, 0, 1, 2)
PX_DEFINE_RGB_ROWS(px_bgrx_rows_to_i420, 4, 2, 1, 0)

typedef void (*px_rgb_rows_fn)(const uint8_t *, const uint8_t *, ptrdiff_t, uint8_t *,
                               uint8_t *, uint8_t *, uint8_t *);

/* The row converter of a layout: 0 RGB, 1 BGR, 2 RGBx, 3 BGRx. */
static inline px_rgb_rows_fn px_rgb_rows_for(int layout)
{
    static const px_rgb_rows_fn table[4] = {px_rgb_rows_to_i420, px_bgr_rows_to_i420,
                                            px_rgbx_rows_to_i420, px_bgrx_rows_to_i420};
    return table[layout];
}

#endif
