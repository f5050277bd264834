/* The packings of a bf16 product (included by gemm.c; the loop nest's PACK_PANELS). As
 * gemm_loop_nest.h's packer: `count` rows of A or columns of B into micro-panels of width w,
 * element (r, p) of a panel at src[r * s_w + p * s_k], the panel's tail past `count` zero. */
#ifndef FASTNN_GEMM_PACK_BF16_H
#define FASTNN_GEMM_PACK_BF16_H

#include "bf16.h"
#include "kernel_context.h"

/* For the bf16 kernels: rounded to bf16, k steps in pairs, panel[(p / 2) * 2w + 2r + p % 2];
 * an odd kc's last pair padded with zero. Full panels go to the kernel set's vector packers.
 * Defined once per source type S: float32 (rounded, the vector packers `pack_transposed` and
 * `pack_interleaved`) and bf16 as ml_dtypes.bfloat16 and torch store it (moved, not rounded,
 * half the bytes read: the `_from_bf16` packers). */
#define DEFINE_PACK_PANELS_BF16(NAME, S, VECTOR_PACK_TYPE, SUFFIX, CONVERT)                       \
    static void NAME(const fastnn_bf16gemm_blocking *blk, ptrdiff_t count, ptrdiff_t kc,         \
                     const S *src, ptrdiff_t s_w, ptrdiff_t s_k, int w,                          \
                     fastnn_bf16 *restrict dst)                                                   \
    {                                                                                             \
        ptrdiff_t kc_even = kc + (kc & 1);                                                        \
        VECTOR_PACK_TYPE vector_pack = s_k == 1 ? blk->pack_transposed##SUFFIX                    \
                                     : s_w == 1 ? blk->pack_interleaved##SUFFIX : NULL;           \
        if (vector_pack && count >= w) {                                                          \
            ptrdiff_t panels = count / w;                                                         \
            vector_pack(kc, src, s_k == 1 ? s_w : s_k, w, panels, dst);                           \
            src += panels * w * s_w;                                                              \
            dst += panels * w * kc_even;                                                          \
            count -= panels * w;                                                                  \
        }                                                                                         \
        for (ptrdiff_t r0 = 0; r0 < count;                                                        \
             r0 += w, src += w * s_w, dst += (ptrdiff_t)w * kc_even) {                            \
            ptrdiff_t width = count - r0 < w ? count - r0 : w;                                    \
            if (width < w || kc_even != kc)                                                       \
                memset(dst, 0, sizeof(fastnn_bf16) * (size_t)(w * kc_even));                      \
            for (ptrdiff_t r = 0; r < width; r++)                                                 \
                for (ptrdiff_t p = 0; p < kc; p++)                                                \
                    dst[(p >> 1) * 2 * w + 2 * r + (p & 1)] = CONVERT(src[r * s_w + p * s_k]);   \
        }                                                                                         \
    }
#define BF16_AS_IS(x) (x)
DEFINE_PACK_PANELS_BF16(pack_panels_bf16, float, fastnn_bf16_pack, , fastnn_bf16_from_float)
DEFINE_PACK_PANELS_BF16(pack_panels_bf16_from_bf16, fastnn_bf16, fastnn_bf16_pack_from_bf16,
                        _from_bf16, BF16_AS_IS)
#undef BF16_AS_IS
#undef DEFINE_PACK_PANELS_BF16

/* Where the kernel set has no bf16 arithmetic: the float32 kernels' layout
 * (panel[p * w + r]) holding the operands rounded to bf16, so the float32 micro-kernels compute
 * the products of the rounded operands exactly and differ from the bf16 kernels only in the
 * order of the sums. */
static void pack_panels_bf16_rounded(const fastnn_sgemm_blocking *blk, ptrdiff_t count,
                                     ptrdiff_t kc, const float *src, ptrdiff_t s_w, ptrdiff_t s_k,
                                     int w, float *restrict dst)
{
    (void)blk;
    for (ptrdiff_t r0 = 0; r0 < count; r0 += w, src += w * s_w, dst += (ptrdiff_t)w * kc) {
        ptrdiff_t width = count - r0 < w ? count - r0 : w;
        if (width < w)
            memset(dst, 0, sizeof(float) * (size_t)(w * kc));
        if (s_w == 1) {
            for (ptrdiff_t p = 0; p < kc; p++)
                for (ptrdiff_t r = 0; r < width; r++)
                    dst[p * w + r] = fastnn_round_to_bf16(src[p * s_k + r]);
        } else {
            for (ptrdiff_t r = 0; r < width; r++)
                for (ptrdiff_t p = 0; p < kc; p++)
                    dst[p * w + r] = fastnn_round_to_bf16(src[r * s_w + p * s_k]);
        }
    }
}

/* ... and from operands stored in bf16, widened exactly; a denormal bf16 becomes zero, as
 * VDPBF16PS reads it (and as fastnn_bf16_from_float rounds a float32 denormal), so that the bf16
 * products' numbers do not depend on the kernel set. */
static void pack_panels_bf16_widened(const fastnn_sgemm_blocking *blk, ptrdiff_t count,
                                     ptrdiff_t kc, const fastnn_bf16 *src, ptrdiff_t s_w,
                                     ptrdiff_t s_k, int w, float *restrict dst)
{
    (void)blk;
    for (ptrdiff_t r0 = 0; r0 < count; r0 += w, src += w * s_w, dst += (ptrdiff_t)w * kc) {
        ptrdiff_t width = count - r0 < w ? count - r0 : w;
        if (width < w)
            memset(dst, 0, sizeof(float) * (size_t)(w * kc));
        for (ptrdiff_t p = 0; p < kc; p++)
            for (ptrdiff_t r = 0; r < width; r++)
                dst[p * w + r] = fastnn_bf16_denormal_to_zero(src[r * s_w + p * s_k]);
    }
}

/* The loop nest's PACK_PANELS for bf16 products, chosen by the operand's element type (A and B
 * may be stored differently: float32 rounded while packed, bf16 moved). */
#define PACK_PANELS_BF16(blk, count, kc, src, s_w, s_k, w, dst)                                   \
    _Generic((src), const fastnn_bf16 *: pack_panels_bf16_from_bf16,                             \
             default: pack_panels_bf16)(blk, count, kc, src, s_w, s_k, w, dst)
#define PACK_PANELS_BF16_ON_F32(blk, count, kc, src, s_w, s_k, w, dst)                            \
    _Generic((src), const fastnn_bf16 *: pack_panels_bf16_widened,                               \
             default: pack_panels_bf16_rounded)(blk, count, kc, src, s_w, s_k, w, dst)

#endif
