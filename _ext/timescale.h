/* Exact integer time arithmetic for Parallax kernels.
 *
 * Every function computes floor(value * num / denom) exactly for any int64 input, using a
 * 128-bit intermediate, and reports overflow of the int64 result instead of wrapping.
 * Array kernels divide by the same denominator many times, so they divide by none: the
 * ratio becomes a 64.64 fixed-point number (px_array_scaler, exact by a rounding argument
 * given there), and what that cannot cover uses px_divider, a precomputed reciprocal that
 * turns each division into a 64x64->128 multiply and one correction step (Granlund and
 * Montgomery, "Division by invariant integers").
 */
#ifndef PARALLAX_TIMESCALE_H
#define PARALLAX_TIMESCALE_H

#include <stddef.h>
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

/* *out = base + floor(value * num / denom); denom != 0. The scaled part alone may leave
 * int64 (a late sample after a very negative base): only the sum must fit. */
static inline int px_scale_add(int64_t value, int64_t num, int64_t denom, int64_t base,
                               int64_t *out)
{
    px_i128 q = px_floordiv128((px_i128)value * num, denom) + base;
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
    uint64_t over = rem >= v->d; /* branch-free: this is taken at random */
    *r = rem - (v->d & (0 - over));
    return q + over;
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

/* The high 64 bits of a * b. */
static inline uint64_t px_mulhi(uint64_t a, uint64_t b)
{
    return (uint64_t)(((px_u128)a * b) >> 64);
}

/* Loops written to vectorize get a copy per instruction set, picked at load time (GCC ifunc
 * on x86-64 Linux); elsewhere the compiler's default. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define PX_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define PX_VECTOR_CLONES
#endif

/* The high 64 bits of a * b from 32-bit halves: four 32x32->64 products, which vectorize
 * (vpmuludq) where the 64x64->128 multiply does not. */
static inline uint64_t px_mulhi_halves(uint64_t a, uint64_t b)
{
    uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl; /* < 3 * 2^32 */
    return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

/* Array form of the exact scaling: out[i] = base + floor(in[i] * num / denom) for every
 * in[i] != PX_NONE, with num * denom < 2^64 (px_scaler_fits on |num|). All the setup work is
 * done once, so the loop has no division and, on the common path, two multiplies:
 *
 * - The range [lo, hi] of inputs whose result fits int64 (and is not PX_NONE) is computed
 *   by the caller, so the loop checks one compare per element instead of 128-bit results;
 *   inside that range the sum wraps mod 2^64 to the exact value.
 * - Fast path, |x| <= (2^64 - 1) / denom: x * F with F = num / denom in 64.64 fixed point,
 *   rounded up for x >= 0 and down for x < 0. Either way x * F overestimates x * num / denom
 *   by less than |x| / 2^64 < 1 / denom, which is less than the distance from any multiple
 *   of 1 / denom to the next integer: the floor is exact.
 * - General path (negative or huge x): floor division by the reciprocal, from x + 2^63
 *   (unsigned) and the precomputed 2^63 = q0 * denom + r0.
 */
#define PX_NONE INT64_MIN

typedef struct {
    uint64_t mask;               /* all ones when num < 0: scale -x by |num| instead */
    uint64_t base;               /* added to each result, mod 2^64 */
    uint64_t num;                /* |num| */
    px_divider div;              /* denom */
    uint64_t q0, r0;             /* 2^63 = q0 * denom + r0 */
    uint64_t f_int, f_frac;      /* ceil(num * 2^64 / denom) = f_int * 2^64 + f_frac */
    uint64_t f_round;            /* 1 when that ceil rounded up (subtract for the floor) */
    uint64_t fast_lo, fast_span; /* fast path for fast_lo <= x <= fast_lo + fast_span */
    int has_fast;
    int64_t lo, hi;              /* results of x in [lo, hi] fit int64 and are not PX_NONE */
} px_array_scaler;

/* Precondition: num != INT64_MIN, px_scaler_fits(|num|, denom); lo and hi bound the inputs
 * (after the sign of num is applied) whose result base + floor(x * |num| / denom) lies in
 * (INT64_MIN, INT64_MAX]. */
static inline px_array_scaler px_array_scaler_make(int64_t num, int64_t denom, int64_t base,
                                                   int64_t lo, int64_t hi)
{
    px_array_scaler s;
    uint64_t d = (uint64_t)denom;
    uint64_t top = UINT64_MAX / d; /* largest x with x * denom < 2^64 */
    s.mask = num < 0 ? UINT64_MAX : 0;
    s.base = (uint64_t)base;
    s.num = num < 0 ? (uint64_t)0 - (uint64_t)num : (uint64_t)num;
    s.div.d = d;
    s.div.m = top; /* with one correction step, floor((2^64 - 1) / d) is exact for d >= 1 */
    s.q0 = ((uint64_t)1 << 63) / d;
    s.r0 = ((uint64_t)1 << 63) % d;
    s.f_int = s.num / d;
    s.f_frac = (uint64_t)(((px_u128)(s.num % d) << 64) / d);
    s.f_round = (((px_u128)(s.num % d) << 64) % d) != 0;
    s.f_frac += s.f_round;
    s.lo = lo;
    s.hi = hi;
    /* top < 2^63 unless d == 1, and then the fixed point is exact for any x: clamp to int64 */
    int64_t fast_bound = top > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)top;
    int64_t fast_lo = lo > -fast_bound ? lo : -fast_bound;
    int64_t fast_hi = hi < fast_bound ? hi : fast_bound;
    s.has_fast = fast_lo <= fast_hi;
    s.fast_lo = (uint64_t)fast_lo;
    s.fast_span = s.has_fast ? (uint64_t)fast_hi - (uint64_t)fast_lo : 0;
    return s;
}

/* floor(x * num / denom) mod 2^64 for any int64 x, by the reciprocal. */
static inline uint64_t px_array_scaler_general(const px_array_scaler *s, int64_t x)
{
    uint64_t ru, r, fr, borrow;
    uint64_t u = (uint64_t)x ^ ((uint64_t)1 << 63); /* x + 2^63 */
    uint64_t qu = px_divmod(&s->div, u, &ru);
    /* x = u - 2^63 = (qu - q0) * denom + (ru - r0); borrow one denom when ru < r0 */
    borrow = ru < s->r0;
    uint64_t q = qu - s->q0 - borrow;
    r = ru - s->r0 + (s->div.d & (0 - borrow));
    uint64_t frac = px_divmod(&s->div, r * s->num, &fr); /* r * num < denom * num < 2^64 */
    return q * s->num + frac;
}

/* The fast path over a whole array, branch-free so that it vectorizes. Returns nonzero when
 * some element needs the general path (PX_NONE, out of range, or |x| too large): then out
 * is garbage and the caller runs px_scale_add_array. */
PX_VECTOR_CLONES
static int px_scale_add_fast(const px_array_scaler *restrict scaler, const int64_t *restrict in,
                             int64_t *restrict out, ptrdiff_t n)
{
    const uint64_t mask = scaler->mask, base = scaler->base, f_int = scaler->f_int;
    const uint64_t f_frac = scaler->f_frac, f_round = scaler->f_round;
    const uint64_t fast_lo = scaler->fast_lo, fast_span = scaler->fast_span;
    uint64_t miss = 0;
    if (!scaler->has_fast)
        return 1;
    for (ptrdiff_t i = 0; i < n; i++) {
        uint64_t xu = ((uint64_t)in[i] ^ mask) - mask;
        miss |= xu - fast_lo > fast_span;
        uint64_t negative = (uint64_t)((int64_t)xu >> 63);
        uint64_t f = f_frac - (f_round & negative);
        out[i] = (int64_t)(base + xu * f_int + px_mulhi_halves(xu, f) - (f & negative));
    }
    return miss != 0;
}

/* Returns -1 when done, else the first index whose result does not fit int64 (or would be
 * PX_NONE). Any input; one element at a time. */
static inline ptrdiff_t px_scale_add_array(const px_array_scaler *scaler,
                                           const int64_t *restrict in, int64_t *restrict out,
                                           ptrdiff_t n)
{
    /* A local copy: out[] is int64_t, which may alias the struct's fields, so the compiler
     * would otherwise reload every one of them after each store. */
    const px_array_scaler s = *scaler;
    for (ptrdiff_t i = 0; i < n; i++) {
        /* -x for num < 0, in unsigned arithmetic: PX_NONE stays PX_NONE */
        uint64_t xu = ((uint64_t)in[i] ^ s.mask) - s.mask;
        int64_t x = (int64_t)xu;
        if (s.has_fast && xu - s.fast_lo <= s.fast_span) {
            uint64_t negative = (uint64_t)(x >> 63);       /* all ones when x < 0 */
            uint64_t f = s.f_frac - (s.f_round & negative); /* rounded down for x < 0 */
            /* floor(x * f / 2^64) for signed x: the unsigned product of x + 2^64, less f */
            out[i] = (int64_t)(s.base + xu * s.f_int + px_mulhi(xu, f) - (f & negative));
        } else if (in[i] == PX_NONE) {
            out[i] = PX_NONE;
        } else if (x < s.lo || x > s.hi) {
            return i;
        } else {
            out[i] = (int64_t)(s.base + px_array_scaler_general(&s, x));
        }
    }
    return -1;
}

/* Durations from consecutive PTS: out[i] = pts[i + 1] - pts[i] where both are known and
 * increase, else nominal (and for the last one). Branch-free so the compiler vectorizes it;
 * an overflowing difference (> INT64_MAX) is flagged in the loop and located afterwards.
 * Returns -1 when done, else the first index that overflowed. */
PX_VECTOR_CLONES
static ptrdiff_t px_durations(const int64_t *restrict pts, int64_t *restrict out, ptrdiff_t n,
                              int64_t nominal)
{
    uint64_t overflow = 0;
    if (n <= 0)
        return -1;
    for (ptrdiff_t i = 0; i < n - 1; i++) {
        int64_t here = pts[i], after = pts[i + 1];
        uint64_t diff = (uint64_t)after - (uint64_t)here;
        /* after > here also rules out after == PX_NONE, the smallest int64 */
        int64_t known = -(int64_t)((here != PX_NONE) & (after > here));
        overflow |= (uint64_t)known & diff; /* a true difference > INT64_MAX sets bit 63 */
        out[i] = (int64_t)(((uint64_t)known & diff) | (~(uint64_t)known & (uint64_t)nominal));
    }
    out[n - 1] = nominal;
    if (overflow >> 63) {
        for (ptrdiff_t i = 0; i < n - 1; i++)
            if (pts[i] != PX_NONE && pts[i + 1] > pts[i] && out[i] < 0)
                return i;
    }
    return -1;
}

/* *out = a + k * b exactly (128-bit intermediate, so k * b alone may exceed int64);
 * PX_OVERFLOW when the result leaves int64 or is PX_NONE. */
static inline int px_muladd(int64_t a, int64_t k, int64_t b, int64_t *out)
{
    px_i128 r = (px_i128)a + (px_i128)k * b;
    if (r > INT64_MAX || r <= INT64_MIN)
        return PX_OVERFLOW;
    *out = (int64_t)r;
    return PX_OK;
}

/* Checked int64 arithmetic: return nonzero on overflow. */
static inline int px_add(int64_t a, int64_t b, int64_t *out) { return __builtin_add_overflow(a, b, out); }
static inline int px_sub(int64_t a, int64_t b, int64_t *out) { return __builtin_sub_overflow(a, b, out); }
static inline int px_mul(int64_t a, int64_t b, int64_t *out) { return __builtin_mul_overflow(a, b, out); }

#endif
