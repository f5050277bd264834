/* One micro-panel of width w, k-major, from `width` <= w rows each contiguous along k (rows ld
 * apart): panel[p * w + r] = src[r * ld + p], zero past the last row. A full panel is the kernel
 * set's transposing packer where it has one. Shared by the GEMM loop nest (A as stored, B
 * transposed) and the convolution's weight panels; included by each instantiation of them, with
 * T, NAME(x) and BLOCKING_TYPE defined. */
static void NAME(pack_transposed_panel)(const BLOCKING_TYPE *blk, ptrdiff_t kc, const T *src,
                                        ptrdiff_t ld, ptrdiff_t width, int w, T *restrict dst)
{
    if (width == w && blk->pack_transposed) {
        blk->pack_transposed(kc, src, ld, w, dst);
        return;
    }
    if (width < w)
        memset(dst, 0, sizeof(T) * (size_t)(w * kc));
    for (ptrdiff_t r = 0; r < width; r++)
        for (ptrdiff_t p = 0; p < kc; p++) dst[p * w + r] = src[r * ld + p];
}
