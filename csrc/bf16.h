/* float32 <-> bfloat16 in portable C: the framework's packing and the tests' reference use it;
 * the AVX512-BF16 kernels convert with VCVTNE2PS2BF16, which gives the same bits. */
#ifndef FASTNN_BF16_H
#define FASTNN_BF16_H

#include <stdint.h>
#include <string.h>

#include "kernel_context.h"

/* Round to nearest, ties to even, as VCVTNE2PS2BF16 does: denormals become zero of the same
 * sign (the instruction treats denormal inputs as zero) and a NaN stays a quiet NaN. */
static inline fastnn_bf16 fastnn_bf16_from_float(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7f800000u) == 0)
        return (fastnn_bf16)((bits >> 16) & 0x8000u);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return (fastnn_bf16)((bits >> 16) | 0x0040u);
    return (fastnn_bf16)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

static inline float fastnn_float_from_bf16(fastnn_bf16 h)
{
    uint32_t bits = (uint32_t)h << 16;
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* A bf16 value as float32, a denormal as zero of its sign (as VDPBF16PS reads its inputs). */
static inline float fastnn_bf16_denormal_to_zero(fastnn_bf16 h)
{
    return fastnn_float_from_bf16((h & 0x7f80u) == 0 ? (fastnn_bf16)(h & 0x8000u) : h);
}

/* x rounded to the nearest bf16, kept as a float32 (which holds every bf16 exactly). */
static inline float fastnn_round_to_bf16(float x) { return fastnn_float_from_bf16(fastnn_bf16_from_float(x)); }

#endif
