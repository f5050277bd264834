/* Packing by copying, written once and compiled per instruction set (the kernel context's
 * pack_copy): `panels` full panels side by side in the source, k step p of panel i row_bytes
 * contiguous bytes at src + p * ld + i * row_bytes (ld in bytes), into
 * dst + (i * kc + p) * row_bytes. This is how the loop nest packs B as stored (dS W, dS^T X) and
 * A transposed (dS^T X). A kernel file defines COPY_ROW(dst, src, bytes), a static inline copy
 * whose constant `bytes` folds into its vector moves. The portable loop this replaces became a
 * call to memmove for every k step of every panel (128 bytes each on AVX-512); on the
 * 784-1024-1024-10 step at batch 256 (one Zen 5 core, perf shares of two runs each) the copying
 * and its loop took 3.9-4.2% of the step with those calls, 3.6% without.
 *
 * The source is swept a few k steps (rows) at a time across all the panels, so that each panel
 * gets a run of FASTNN_COPY_STEPS rows: panel by panel, the rows (often a multiple of 4 KiB apart)
 * would thrash the few L1 sets they map to, and one step per panel would scatter the writes over
 * as many pages (1024-wide source, 32-wide panels, Zen 5: 58 GB/s against 34 panel by panel).
 * Each panel's piece of the next FASTNN_COPY_STEPS rows is fetched while this block is copied:
 * the source is a weight in L3 or memory, read in runs of a few KiB the hardware prefetchers
 * catch too late (dS W at 256 x 1024 x 1024 spent 11% of its time packing W, at 5 GB/s). */
#ifndef FASTNN_PACK_COPY_H
#define FASTNN_PACK_COPY_H

#define FASTNN_COPY_STEPS 8

#define FASTNN_DEFINE_PACK_COPY(NAME, COPY_ROW)                                                   \
    static inline __attribute__((always_inline)) void NAME##_sweep(                               \
        ptrdiff_t kc, const char *src, ptrdiff_t ld, const int row_bytes, ptrdiff_t panels,       \
        char *restrict dst)                                                                       \
    {                                                                                             \
        const ptrdiff_t panel_bytes = row_bytes * kc;                                             \
        for (ptrdiff_t p0 = 0; p0 < kc; p0 += FASTNN_COPY_STEPS) {                                \
            ptrdiff_t steps = kc - p0 < FASTNN_COPY_STEPS ? kc - p0 : FASTNN_COPY_STEPS;          \
            ptrdiff_t ahead = kc - p0 - steps < FASTNN_COPY_STEPS ? kc - p0 - steps               \
                                                                  : FASTNN_COPY_STEPS;            \
            const char *rows = src + p0 * ld;                                                     \
            char *out = dst + p0 * row_bytes;                                                     \
            for (ptrdiff_t panel = 0; panel < panels; panel++, out += panel_bytes) {              \
                const char *piece = rows + panel * row_bytes;                                     \
                for (ptrdiff_t p = 0; p < ahead; p++)                                             \
                    for (int b = 0; b < row_bytes; b += 64)                                       \
                        __builtin_prefetch(piece + (steps + p) * ld + b, 0, 3);                   \
                for (ptrdiff_t p = 0; p < steps; p++)                                             \
                    COPY_ROW(out + p * row_bytes, piece + p * ld, row_bytes);                     \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
    /* the widths the kernel sets' panels have, as constants; any other as it comes */            \
    void NAME(ptrdiff_t kc, const void *src, ptrdiff_t ld, int row_bytes, ptrdiff_t panels,       \
              void *dst)                                                                          \
    {                                                                                             \
        switch (row_bytes) {                                                                      \
        case 16: NAME##_sweep(kc, src, ld, 16, panels, dst); return;                              \
        case 24: NAME##_sweep(kc, src, ld, 24, panels, dst); return;                              \
        case 32: NAME##_sweep(kc, src, ld, 32, panels, dst); return;                              \
        case 48: NAME##_sweep(kc, src, ld, 48, panels, dst); return;                              \
        case 64: NAME##_sweep(kc, src, ld, 64, panels, dst); return;                              \
        case 128: NAME##_sweep(kc, src, ld, 128, panels, dst); return;                            \
        default: NAME##_sweep(kc, src, ld, row_bytes, panels, dst);                               \
        }                                                                                         \
    }

#endif
