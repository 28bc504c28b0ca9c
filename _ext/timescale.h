/* Exact integer time arithmetic for Parallax kernels.
 *
 * Every function computes floor(value * num / denom) exactly for any int64 input, using a
 * 128-bit intermediate, and reports overflow of the int64 result instead of wrapping.
 * Array kernels divide by the same denominator many times, so they use px_divider: a
 * precomputed reciprocal that turns each division into a 64x64->128 multiply and one
 * correction step (Granlund and Montgomery, "Division by invariant integers").
 */
#ifndef PARALLAX_TIMESCALE_H
#define PARALLAX_TIMESCALE_H

#include <stdint.h>

typedef __int128 px_i128;
typedef unsigned __int128 px_u128;

#define PX_OK 0
#define PX_OVERFLOW 1

/* floor(a / d) for d != 0 (C division truncates toward zero). */
static inline px_i128 px_floordiv128(px_i128 a, px_i128 d)
{
    px_i128 q = a / d;
    px_i128 r = a % d;
    if (r != 0 && ((r < 0) != (d < 0)))
        q -= 1;
    return q;
}

/* *out = floor(value * num / denom); denom != 0. Returns PX_OVERFLOW if it leaves int64. */
static inline int px_scale(int64_t value, int64_t num, int64_t denom, int64_t *out)
{
    px_i128 q = px_floordiv128((px_i128)value * num, denom);
    if (q > INT64_MAX || q < INT64_MIN)
        return PX_OVERFLOW;
    *out = (int64_t)q;
    return PX_OK;
}

/* Division of unsigned 64-bit values by one invariant divisor d >= 1. */
typedef struct {
    uint64_t d;
    uint64_t m; /* floor(2^64 / d); unused when d == 1 */
} px_divider;

static inline px_divider px_divider_make(uint64_t d)
{
    px_divider v;
    v.d = d;
    v.m = d > 1 ? (uint64_t)(((px_u128)1 << 64) / d) : 0;
    return v;
}

/* q = floor(x / d), *r = x - q * d. The reciprocal underestimates x / d by less than one,
 * so one correction step makes the quotient exact. */
static inline uint64_t px_divmod(const px_divider *v, uint64_t x, uint64_t *r)
{
    if (v->d == 1) {
        *r = 0;
        return x;
    }
    uint64_t q = (uint64_t)(((px_u128)x * v->m) >> 64);
    uint64_t rem = x - q * v->d;
    if (rem >= v->d) {
        q += 1;
        rem -= v->d;
    }
    *r = rem;
    return q;
}

/* A precomputed exact scaling x -> floor(x * num / denom) for 0 <= num, 1 <= denom with
 * num * denom < 2^64 (the fast path: every remainder product fits 64 bits). */
typedef struct {
    px_divider div;
    int64_t num;
} px_scaler;

static inline int px_scaler_fits(int64_t num, int64_t denom)
{
    return num >= 0 && denom >= 1 && (px_u128)num * (px_u128)denom < ((px_u128)1 << 64);
}

static inline px_scaler px_scaler_make(int64_t num, int64_t denom)
{
    px_scaler s;
    s.div = px_divider_make((uint64_t)denom);
    s.num = num;
    return s;
}

/* *out = base + floor(value * num / denom) with the precomputed scaler; PX_OVERFLOW when
 * the result leaves int64. */
static inline int px_scaler_apply(const px_scaler *s, int64_t value, int64_t base, int64_t *out)
{
    uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    uint64_t rem, frac_rem;
    uint64_t whole = px_divmod(&s->div, magnitude, &rem);
    /* rem * num < denom * num < 2^64 by px_scaler_fits */
    uint64_t frac = px_divmod(&s->div, rem * (uint64_t)s->num, &frac_rem);
    px_i128 scaled = (px_i128)whole * s->num + (px_i128)frac;
    if (value < 0)
        scaled = -scaled - (frac_rem != 0); /* floor of a negative quotient rounds away */
    scaled += base;
    if (scaled > INT64_MAX || scaled < INT64_MIN)
        return PX_OVERFLOW;
    *out = (int64_t)scaled;
    return PX_OK;
}

/* Checked int64 arithmetic: return nonzero on overflow. */
static inline int px_add(int64_t a, int64_t b, int64_t *out) { return __builtin_add_overflow(a, b, out); }
static inline int px_sub(int64_t a, int64_t b, int64_t *out) { return __builtin_sub_overflow(a, b, out); }
static inline int px_mul(int64_t a, int64_t b, int64_t *out) { return __builtin_mul_overflow(a, b, out); }

#endif
