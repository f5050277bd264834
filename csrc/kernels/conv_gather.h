/* The convolution's window gather (the implicit GEMM's packing of B), one source compiled once
 * per instruction set, like activation_rows.h: a file under csrc/kernels/<isa>/ sets its target
 * and includes this, and the loops below, of a width fixed per set, become a few vector moves.
 *
 * A packed panel of nr output pixels, rows [k0, k0 + kc) of the column matrix (row k is input
 * channel k / taps, kernel tap k % taps):
 *     dst[p * nr + r] = x[c * plane + tap_offset[t] + r] & lane_mask[t * nr + r]
 * for the convolutions whose taps read consecutive input values over consecutive output pixels
 * (stride 1 along rows, and output rows as wide as input rows: the "same" convolutions). The
 * lane mask (all ones or zero, per tap and pixel) zeroes what falls in the padding; values are
 * moved as integers, so that a NaN or Inf next to the image cannot leak into the padding. Reads
 * outside [0, total) take the lane-by-lane path, which reads only unmasked lanes.
 */
#include <stddef.h>
#include <stdint.h>

#define FASTNN_DEFINE_CONV_GATHER(NAME, U, NR)                                                    \
    void NAME(ptrdiff_t k0, ptrdiff_t kc, ptrdiff_t taps, const U *x, ptrdiff_t total,            \
              ptrdiff_t plane, const ptrdiff_t *tap_offset, const U *lane_mask, U *dst)           \
    {                                                                                             \
        ptrdiff_t c = k0 / taps, t = k0 - c * taps;                                               \
        for (ptrdiff_t p = 0; p < kc; p++, dst += NR) {                                           \
            const ptrdiff_t off = c * plane + tap_offset[t];                                      \
            const U *mask = lane_mask + t * NR;                                                   \
            if (off >= 0 && off + NR <= total) {                                                  \
                const U *src = x + off;                                                           \
                for (int r = 0; r < NR; r++) dst[r] = src[r] & mask[r];                           \
            } else {                                                                              \
                for (int r = 0; r < NR; r++)                                                      \
                    dst[r] = mask[r] && off + r >= 0 && off + r < total ? x[off + r] : 0;         \
            }                                                                                     \
            if (++t == taps) {                                                                    \
                t = 0;                                                                            \
                c++;                                                                              \
            }                                                                                     \
        }                                                                                         \
    }
