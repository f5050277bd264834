

/* The GEMM loop nest, written once and instantiated by gemm.c for float, double and bf16 with
 *   T         the element type of A, B, C, alpha, beta and the epilogue
 *   TA, TB    (optional) the element types of A and B where they are not T: a bf16 product's
 *             operands stored in bf16 (fastnn_bf16), its C and the rest float32
 *   P         the element type of the packed panels the micro-kernel reads (T, or fastnn_bf16)
 *   KGROUP    k steps packed together per row of a panel (2 for bf16 pairs, else 1)
 *   PACK_PANELS(blk, count, kc, src, s_w, s_k, w, dst)  packs TA or TB into P panels (a
 *             type-generic macro where the two differ); left undefined,
 *             the nest's own copying packer
 *   READS_SOURCE  whether the micro-kernel may read B where it is: not when packing converts
 *             or rounds
 *   DOT_KERNELS  whether the blocking's dot kernels (which read A and B where they are) may
 *             serve: not where they would skip the rounding that packing does
 *   DOT_UKERNEL, DOT_TILE(blk, k, a, lda, rows, b, ldb, cols, c, ldc, alpha, beta)  (optional)
 *             the blocking's member holding the dot kernel, and its call; by default dot_ukernel
 *             with the dot kernel's own arguments
 *   PREFETCH_A  whether the next block of A is fetched while the current one is used
 *   PREFETCH_NEXT_B  (with PREFETCH_A) whether the source of B's next panel is fetched while
 *             the current one is used: 1, over the last block of A's calls; 2, for products of
 *             up to FETCH_NEXT_B_MAX_ROWS rows of C, over all of the panel's calls, NC halved so
 *             that the next panel's source fits in L2 beside it (the product's blocking then
 *             says so in fetch_next_b_whole_panel; with few rows, packing B is a
 *             large share of the product, its source a weight last touched a step ago)
 *   FETCH_IN_KERNEL  (with PREFETCH_A) whether a blocking's ukernel_fetching, where it has one,
 *             fetches those lines as it runs rather than a burst of them before each call
 *   PACK_IN_KERNEL  (with PREFETCH_NEXT_B 2) whether a blocking's ukernel_packing_b, where it
 *             has one, packs a row-major B's panel as the first tiles of rows compute with it, a
 *             micro-panel ahead, rather than in a pass of its own before them (packs_b_in_kernel)
 *   NARROW_TILES  whether the blocking may offer a narrow variant (a smaller MR) for products
 *             whose rows it tiles with less padding
 *   TALL_TILES  (optional) whether the blocking may offer a tall variant (a larger MR) for
 *             products of a few rows that it covers in fewer tiles
 *   WIDE_DOT_TILES  (optional, with DOT_KERNELS) whether the blocking may offer a dot tile
 *             spanning a product's few columns (dot_wide_ukernel)
 *   NAME(x)   x with the instantiation's suffix
 *   BLOCKING  the member of fastnn_kernel_context holding this type's micro-kernel and blocks
 *
 * Loops, outermost first (Goto's algorithm with the roles of A and B swapped, because C is
 * row-major and the micro-kernels vectorise along a row of C):
 *   jc  by NC over the columns of C   pack the KC x NC panel of B (stays in L2)
 *   pc  by KC over k                  (beta applies on the first pass only)
 *   ic  by MC over the rows of C      pack the MC x KC block of A
 *   ir  by MR                         the MR x KC micro-panel of A stays in L1
 *   jr  by NR                         micro-kernel, streaming B from L2
 * (For a few rows of C, a row-major B is not packed at all: see b_in_place.)
 * Threads take blocks of C (units) from a shared counter (gemm.c); this nest is serial.
 */

#ifndef TA
#define TA T
#define TA_DEFINED_HERE
#endif
#ifndef TB
#define TB T
#define TB_DEFINED_HERE
#endif

#ifndef TALL_TILES
#define TALL_TILES 0
#define TALL_TILES_DEFINED_HERE
#endif
#ifndef WIDE_DOT_TILES
#define WIDE_DOT_TILES 0
#define WIDE_DOT_TILES_DEFINED_HERE
#endif

#ifndef PACK_PANELS

#include "pack_transposed_panel.h"

/* Packing: `count` rows (of A) or columns (of B) into micro-panels of width w, k-major:
 * panel[p * w + r] = src[r * s_w + p * s_k], the panel's tail past `count` zero.
 *   s_w == 1  each k step is w consecutive values: a copy (A transposed, B as stored)
 *   s_k == 1  each row of the source is contiguous along k: a transposition (A as stored,
 *             B transposed as in X W^T), done by the kernel set's own routine when it has one
 */
static void NAME(pack_panels)(const BLOCKING_TYPE *blk, ptrdiff_t count, ptrdiff_t kc,
                              const T *src, ptrdiff_t s_w, ptrdiff_t s_k, int w, T *restrict dst)
{
    if (s_w == 1 && count >= w) {
        ptrdiff_t panels = count / w;
        blk->pack_copy(kc, src, s_k * (ptrdiff_t)sizeof(T), w * (int)sizeof(T), panels, dst);
        src += panels * w;
        dst += panels * w * kc;
        count -= panels * w;
    }
    for (ptrdiff_t r0 = 0; r0 < count; r0 += w, src += w * s_w, dst += (ptrdiff_t)w * kc) {
        ptrdiff_t width = count - r0 < w ? count - r0 : w;
        if (s_w != 1 && s_k == 1) {
            NAME(pack_transposed_panel)(blk, kc, src, s_w, width, w, dst);
            continue;
        }
        if (width < w)
            memset(dst, 0, sizeof(T) * (size_t)(w * kc));
        if (s_w == 1) {
            for (ptrdiff_t p = 0; p < kc; p++)
                for (ptrdiff_t r = 0; r < width; r++) dst[p * w + r] = src[p * s_k + r];
        } else {
            for (ptrdiff_t r = 0; r < width; r++)
                for (ptrdiff_t p = 0; p < kc; p++) dst[p * w + r] = src[r * s_w + p * s_k];
        }
    }
}
#define PACK_PANELS NAME(pack_panels)
#define PACK_PANELS_DEFINED_HERE
#endif

/* rows x cols of a scratch tile (nr wide) into C */
static void NAME(tile_into_c)(const T *tile, int nr, T *c, ptrdiff_t ldc, ptrdiff_t rows,
                              ptrdiff_t cols, T alpha, T beta)
{
    for (ptrdiff_t i = 0; i < rows; i++) {
        T *row = c + i * ldc;
        const T *t = tile + i * nr;
        if (beta == 0)
            for (ptrdiff_t j = 0; j < cols; j++) row[j] = alpha * t[j];
        else
            for (ptrdiff_t j = 0; j < cols; j++) row[j] = alpha * t[j] + beta * row[j];
    }
}

/* An edge tile: the micro-kernel fills a scratch tile, of which rows x cols go into C. At most
 * half a tile's columns go to the set's half-width kernel where it has one, straight into C
 * when its rows and columns are whole. */
static void NAME(edge_tile)(const BLOCKING_TYPE *blk, ptrdiff_t kc, const P *ap, const P *bp,
                            ptrdiff_t rs_bp, T *c, ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols,
                            T alpha, T beta)
{
    __typeof__(*blk->ukernel) *kernel = blk->ukernel;
#if KGROUP == 1
    if (blk->half_ukernel && 2 * cols <= blk->nr) {
        if (rows == blk->mr && 2 * cols == blk->nr) {
            blk->half_ukernel(kc, ap, bp, rs_bp, c, ldc, alpha, beta);
            return;
        }
        kernel = blk->half_ukernel;
    }
#endif
    T tile[FASTNN_MAX_MR * FASTNN_MAX_NR] __attribute__((aligned(64)));
    kernel(kc, ap, bp, rs_bp, tile, blk->nr, (T)1, (T)0);
    NAME(tile_into_c)(tile, blk->nr, c, ldc, rows, cols, alpha, beta);
}

#if READS_SOURCE
/* A tile of the strided-A kernel, an edge one (cols < nr) through a scratch tile: every row of
 * the block is there (a_in_place takes only whole tiles of rows). */
static void NAME(strided_a_tile)(const BLOCKING_TYPE *blk, ptrdiff_t kc, const T *a,
                                 ptrdiff_t rs_a, ptrdiff_t cs_a, const T *bp, ptrdiff_t rs_bp,
                                 T *c, ptrdiff_t ldc, ptrdiff_t cols, T alpha, T beta)
{
    if (cols == blk->nr) {
        blk->strided_a_ukernel(kc, a, rs_a, cs_a, bp, rs_bp, c, ldc, alpha, beta);
        return;
    }
    T tile[FASTNN_MAX_MR * FASTNN_MAX_NR] __attribute__((aligned(64)));
    blk->strided_a_ukernel(kc, a, rs_a, cs_a, bp, rs_bp, tile, blk->nr, (T)1, (T)0);
    NAME(tile_into_c)(tile, blk->nr, c, ldc, blk->mr, cols, alpha, beta);
}

/* One pass over k of C[0:m, 0:nc] (m whole tiles of rows) with A read in place and B packed one
 * panel at a time, each panel used by every tile of rows before the next is packed: the panel
 * (32 KiB at KC = 256, NR = 32 floats) stays in L1, where packing B whole would pass its KC x NC
 * block (512 KiB) through L2 with the weights and their state. Measured on the digits MLP, one
 * Zen 5 core: X W^T 64 x 256 x 256 34.3 -> 33.5 us hot; its compiled step (batch 64, interleaved
 * best of 8, three runs) 139.6 / 142.1 / 140.5 -> 138.0 / 138.9 / 139.3 us. */
static void NAME(gemm_panel_by_panel)(const BLOCKING_TYPE *blk, ptrdiff_t m, ptrdiff_t nc,
                                      ptrdiff_t kc, T alpha, const T *a, ptrdiff_t rs_a,
                                      ptrdiff_t cs_a, const T *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                                      T beta, T *c, ptrdiff_t ldc, P *b_packed)
{
    const int mr = blk->mr, nr = blk->nr;
    for (ptrdiff_t jr = 0; jr < nc; jr += nr) {
        ptrdiff_t cols = nc - jr < nr ? nc - jr : nr;
        PACK_PANELS(blk, cols, kc, b + jr * cs_b, cs_b, rs_b, nr, b_packed);
        for (ptrdiff_t ir = 0; ir < m; ir += mr)
            NAME(strided_a_tile)(blk, kc, a + ir * rs_a, rs_a, cs_a, b_packed, nr,
                                 c + ir * ldc + jr, ldc, cols, alpha, beta);
    }
}
#endif

#if PREFETCH_A
/* While one block of A is computed with, the source of the next block is fetched into the cache,
 * a few lines before each micro-kernel call: its packing then reads L2 rather than waiting on
 * memory line by line (bf16 packing was bound by that latency: a tenth of the product). Where A
 * is packed once, the next block's place in the buffer is fetched too, for writing: it was last
 * written a whole product ago, and packing into it cold cost as much again as packing into L2
 * (bf16, a 120 x 512 block from L2, Zen 5: 7.6 us against 4.6). */
typedef struct {
    const char *row;                /* the row being fetched */
    ptrdiff_t stride_bytes, lines_per_row, rows_left, line, per_call;
    const char *out;                /* the packed block's next line, and lines left */
    ptrdiff_t out_lines, out_per_call;
} NAME(a_prefetch);

/* Rows row0.. of op(A) (`rows` of them), k steps k0.. (`steps`), over `calls` kernel calls; and
 * the out_elements where they will be packed, if out is not NULL. */
static void NAME(a_prefetch_plan)(NAME(a_prefetch) *pf, const void *a, ptrdiff_t element_bytes,
                                  ptrdiff_t rs_a, ptrdiff_t cs_a,
                                  ptrdiff_t row0, ptrdiff_t rows, ptrdiff_t k0, ptrdiff_t steps,
                                  ptrdiff_t calls, const P *out, ptrdiff_t out_elements)
{
    *pf = (NAME(a_prefetch)){0};
    if (rows <= 0 || steps <= 0)
        return;
    if (out) {
        pf->out = (const char *)out;
        pf->out_lines = (out_elements * (ptrdiff_t)sizeof(P) + 63) / 64;
        pf->out_per_call = (pf->out_lines + calls - 1) / calls;
    }
    if (cs_a != 1 && rs_a != 1)
        return;
    ptrdiff_t extent = cs_a == 1 ? steps : rows;
    pf->rows_left = cs_a == 1 ? rows : steps;
    pf->row = (const char *)a + (row0 * rs_a + k0 * cs_a) * element_bytes;
    pf->stride_bytes = (cs_a == 1 ? rs_a : cs_a) * element_bytes;
    pf->lines_per_row = (extent * element_bytes + 63) / 64 + 1; /* +1: rows start anywhere */
    pf->per_call = (pf->rows_left * pf->lines_per_row + calls - 1) / calls;
}

/* A call's share of the lines of the packed destination, for writing */
static inline void NAME(a_prefetch_out_some)(NAME(a_prefetch) *pf)
{
    for (ptrdiff_t i = 0; i < pf->out_per_call && pf->out_lines > 0; i++, pf->out_lines--) {
        __builtin_prefetch(pf->out, 1, 3);
        pf->out += 64;
    }
}

static inline void NAME(a_prefetch_some)(NAME(a_prefetch) *pf)
{
    NAME(a_prefetch_out_some)(pf);
    for (ptrdiff_t i = 0; i < pf->per_call && pf->rows_left > 0; i++) {
        __builtin_prefetch(pf->row + pf->line * 64, 0, 3);
        if (++pf->line == pf->lines_per_row) {
            pf->line = 0;
            pf->row += pf->stride_bytes;
            pf->rows_left--;
        }
    }
}
#endif

#if PREFETCH_A && FETCH_IN_KERNEL
/* This call's share of pf's lines to read, for the micro-kernel to fetch as it runs (the lines of
 * the packed destination, for writing, still go before the call). */
static inline void NAME(a_prefetch_share)(NAME(a_prefetch) *pf, fastnn_fetch_lines *share)
{
    NAME(a_prefetch_out_some)(pf);
    *share = (fastnn_fetch_lines){pf->row, pf->stride_bytes, pf->lines_per_row, pf->line, 0};
    if (pf->rows_left <= 0)
        return;
    ptrdiff_t left = pf->rows_left * pf->lines_per_row - pf->line;
    share->count = pf->per_call < left ? pf->per_call : left;
    ptrdiff_t rows_done = (pf->line + share->count) / pf->lines_per_row;
    pf->line = (pf->line + share->count) % pf->lines_per_row;
    pf->row += rows_done * pf->stride_bytes;
    pf->rows_left -= rows_done;
}
#endif

#if PREFETCH_A && PREFETCH_NEXT_B
/* The source of the panel of B that follows (jc, pc) (the next pass over k, else the next columns),
 * fetched over `calls` kernel calls: spread over the last block of A's calls rather than waited on
 * line by line when it is packed. Where packing converts (bf16), the panel's source is twice its
 * packed size and comes from memory (Zen 5, one core, n = 1024: B's packing took 240 us of a
 * 4.5 ms product at 8-9 bytes a cycle, against 30 from L2). */
static void NAME(next_b_plan)(NAME(a_prefetch) *pf, const BLOCKING_TYPE *blk, const TB *b,
                              ptrdiff_t rs_b, ptrdiff_t cs_b, ptrdiff_t n, ptrdiff_t k,
                              ptrdiff_t jc, ptrdiff_t nc, ptrdiff_t pc, ptrdiff_t kc,
                              ptrdiff_t calls)
{
    /* columns of B play the rows of op(A): column j, k step p at b[j * cs_b + p * rs_b] */
    if (pc + kc < k)
        NAME(a_prefetch_plan)(pf, b, sizeof(TB), cs_b, rs_b, jc, nc, pc + kc,
                              k - pc - kc < blk->kc ? k - pc - kc : blk->kc, calls, NULL, 0);
    else if (jc + nc < n)
        NAME(a_prefetch_plan)(pf, b, sizeof(TB), cs_b, rs_b, jc + nc,
                              n - jc - nc < blk->nc ? n - jc - nc : blk->nc, 0,
                              k < blk->kc ? k : blk->kc, calls, NULL, 0);
    else
        *pf = (NAME(a_prefetch)){0};
}
#endif

#if PACK_IN_KERNEL
#if KGROUP != 1 || !PREFETCH_A || PREFETCH_NEXT_B != 2
#error "PACK_IN_KERNEL: float panels (KGROUP 1) whose source PREFETCH_NEXT_B 2 fetched"
#endif
/* Whether a pass's panel of B (nc columns of a row-major B) is packed by the micro-kernel as the
 * first tiles of rows compute with it, a micro-panel ahead, rather than in a pass of its own
 * before them (a copy bound by L2's bandwidth, with nothing to overlap it): where the panel's
 * source was fetched into L2 over the previous panel's calls (fetch_next_b_whole_panel). From
 * L3 the copy's loads do not hide in the kernel's free slots: at 1024 x 1024 x 1024, whose
 * source nobody fetches, the product was 1-2% slower with it. It takes two whole micro-panels
 * (the first is packed up front), whole first tiles of rows, neither operand read in place, and
 * passes at least FASTNN_PACK_IN_KERNEL_MIN_DEPTH deep. */
static inline int NAME(packs_b_in_kernel)(const BLOCKING_TYPE *blk, ptrdiff_t m, ptrdiff_t nc,
                                          ptrdiff_t kc, ptrdiff_t cs_b, int an_operand_in_place)
{
    return blk->ukernel_packing_b && blk->fetch_next_b_whole_panel && cs_b == 1 &&
           !an_operand_in_place && nc / blk->nr >= 2 && kc >= FASTNN_PACK_IN_KERNEL_MIN_DEPTH &&
           (m < blk->mc ? m : blk->mc) >= (ptrdiff_t)blk->packing_b_tiles * blk->mr;
}

/* What the kernel does not pack of such a panel: its first micro-panel, and a partial last one
 * (the kernel copies whole rows of NR) */
static void NAME(pack_first_and_partial_panels)(const BLOCKING_TYPE *blk, ptrdiff_t nc,
                                                ptrdiff_t kc, const T *b, ptrdiff_t rs_b,
                                                P *b_packed)
{
    const int nr = blk->nr;
    const ptrdiff_t whole = nc - nc % nr;
    PACK_PANELS(blk, nr, kc, b, 1, rs_b, nr, b_packed);
    if (whole < nc)
        PACK_PANELS(blk, nc - whole, kc, b + whole, 1, rs_b, nr, b_packed + whole * kc);
}

/* The first packing_b_tiles (whole) tiles of rows of the pass, micro-panel by micro-panel of B
 * (the others' order: tile by tile), tile t's call on micro-panel j copying k steps
 * [t * share, (t + 1) * share) of whole micro-panel j + 1 into place */
static void NAME(first_tiles_packing_b)(const BLOCKING_TYPE *blk, ptrdiff_t nc, ptrdiff_t kc,
                                        const P *a_block, const T *b, ptrdiff_t rs_b,
                                        P *b_packed, T *c, ptrdiff_t ldc, T alpha, T beta,
                                        NAME(a_prefetch) *next_a, NAME(a_prefetch) *next_b)
{
    const int mr = blk->mr, nr = blk->nr, tiles = blk->packing_b_tiles;
    const ptrdiff_t whole = nc - nc % nr, share = (kc + tiles - 1) / tiles;
    for (ptrdiff_t jr = 0; jr < nc; jr += nr) {
        const ptrdiff_t cols = nc - jr < nr ? nc - jr : nr;
        const P *bp = b_packed + jr * kc;
        for (int t = 0; t < tiles; t++) {
            const P *ap = a_block + (ptrdiff_t)t * mr * kc;
            T *c_tile = c + (ptrdiff_t)t * mr * ldc + jr;
            const ptrdiff_t p0 = t * share, steps = kc - p0 < share ? kc - p0 : share;
            NAME(a_prefetch_some)(next_a);
            NAME(a_prefetch_some)(next_b);
            if (jr + nr < whole && steps > 0)
                blk->ukernel_packing_b(kc, ap, bp, c_tile, ldc, alpha, beta,
                                       b + p0 * rs_b + jr + nr, rs_b,
                                       b_packed + (jr + nr) * kc + p0 * nr, steps);
            else if (cols == nr)
                blk->ukernel(kc, ap, bp, nr, c_tile, ldc, alpha, beta);
            else
                NAME(edge_tile)(blk, kc, ap, bp, nr, c_tile, ldc, mr, cols, alpha, beta);
        }
    }
}
#endif

/* A panel's k extent: a pass over k of depth kc, rounded up to whole k groups. */
static inline ptrdiff_t NAME(kc_packed)(ptrdiff_t kc) { return (kc + KGROUP - 1) / KGROUP * KGROUP; }

/* Elements of `rows` rows of op(A) packed for the whole of k: whole micro-panels, each pass over
 * k a panel of depth KC (the layout in which gemm_rows packs A once). */
static size_t NAME(packed_a_elements)(const BLOCKING_TYPE *blk, ptrdiff_t rows, ptrdiff_t k)
{
    return (size_t)((rows + blk->mr - 1) / blk->mr * blk->mr) *
           (size_t)NAME(kc_packed)(blk->kc) * (size_t)((k + blk->kc - 1) / blk->kc);
}

/* C[0:m, 0:n] of the whole product, at (row0, col0) of it, for the epilogue's indexing. */
static void NAME(gemm_rows)(const BLOCKING_TYPE *blk, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                              T alpha, const TA *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                              const TB *b, ptrdiff_t rs_b, ptrdiff_t cs_b, T beta, T *c,
                              ptrdiff_t ldc, const fastnn_epilogue *epilogue, ptrdiff_t row0,
                              ptrdiff_t col0, P *a_packed, P *b_packed, size_t a_room)
{
    const int mr = blk->mr, nr = blk->nr;
    /* Where several panels of B would each re-pack the same blocks of A, A is packed once for
     * the whole product (when the buffer's a_room elements for A hold it): block (pc, ic) at
     * a_packed + (pc / KC * m_padded + ic) * kc_full. Packing A is then independent of NC, which
     * can be chosen for L2 alone. */
    const ptrdiff_t m_padded = (m + mr - 1) / mr * mr;
    const ptrdiff_t kc_full = NAME(kc_packed)(blk->kc);
    const int a_once = n > blk->nc && NAME(packed_a_elements)(blk, m, k) <= a_room;
    /* A row-major B is read in place, its row stride handed to the micro-kernel, where packing
     * would not pay: with few rows of C each panel of B serves few micro-kernel calls, and a
     * small B stays in L1 as it is. Only a last, partial panel is packed, so that no kernel
     * reads past the end of a row. */
    const int b_in_place = READS_SOURCE && cs_b == 1 &&
                           (m <= FASTNN_B_IN_PLACE_MAX_ROWS(mr) ||
                            (m <= FASTNN_B_IN_PLACE_UNALIASED_MAX_ROWS(mr) &&
                             (rs_b * (ptrdiff_t)sizeof(T)) % FASTNN_L1_ALIAS_BYTES != 0) ||
                            (double)k * rs_b * sizeof(T) <= FASTNN_B_IN_PLACE_MAX_BYTES);
    /* A is read in place too, by the strided-A kernel, where each of its micro-panels serves
     * only the few column tiles of one panel of B, so that packing it does not pay: whole tiles
     * of rows, row-major or transposed, its lines not 4 KiB apart (FASTNN_L1_ALIAS_BYTES).
     * Measured on the digits MLP's products, one Zen 5 core, operands hot, packed -> in place:
     * X W^T 64 x 256 x 256 (W transposed into panels) 36.5 -> 34.8 us; dS W 32.0 -> 30.8 (100%
     * of peak: neither operand packed); dS^T X 32 x 256 x 64 4.22 -> 3.99, 32 x 64 x 64
     * 1.24 -> 1.01. */
#if READS_SOURCE
    const int a_in_place = blk->strided_a_ukernel && n <= blk->nc && m % mr == 0 &&
                           ((cs_a == 1 && (rs_a * (ptrdiff_t)sizeof(T)) % FASTNN_L1_ALIAS_BYTES) ||
                            (rs_a == 1 && (cs_a * (ptrdiff_t)sizeof(T)) % FASTNN_L1_ALIAS_BYTES));
    /* ... and then a packed B goes panel by panel, where A's rows (at most MC) stay in L2 */
    const int panel_by_panel = a_in_place && !b_in_place && m <= blk->mc;
#else
    const int a_in_place = 0;
#endif
    for (ptrdiff_t jc = 0; jc < n; jc += blk->nc) {
        ptrdiff_t nc = n - jc < blk->nc ? n - jc : blk->nc;
        ptrdiff_t nc_in_place = b_in_place ? nc - nc % nr : 0;
        for (ptrdiff_t pc = 0; pc < k; pc += blk->kc) {
            ptrdiff_t kc = k - pc < blk->kc ? k - pc : blk->kc;
            ptrdiff_t kc_packed = NAME(kc_packed)(kc);
            T beta_here = pc == 0 ? beta : (T)1;
            int last_pass = pc + kc >= k;
            const TB *b_block = b + pc * rs_b + jc * cs_b;
#if READS_SOURCE
            if (panel_by_panel) {
                NAME(gemm_panel_by_panel)(blk, m, nc, kc, alpha, a + pc * cs_a, rs_a, cs_a, b_block,
                                          rs_b, cs_b, beta_here, c + jc, ldc, b_packed);
                for (ptrdiff_t ir = 0; ir < m && last_pass && epilogue; ir += mr)
                    epilogue->apply(epilogue, c + ir * ldc + jc, ldc, row0 + ir, col0 + jc, mr, nc);
                continue;
            }
#endif
            int pack_in_kernel = 0;
#if PACK_IN_KERNEL
            pack_in_kernel = NAME(packs_b_in_kernel)(blk, m, nc, kc, cs_b,
                                                     nc_in_place > 0 || a_in_place);
            if (pack_in_kernel) /* micro-panel 0, and a partial last one; the kernel the rest */
                NAME(pack_first_and_partial_panels)(blk, nc, kc, b_block, rs_b, b_packed);
#endif
            if (!pack_in_kernel)
                PACK_PANELS(blk, nc - nc_in_place, kc, b_block + nc_in_place * cs_b, cs_b, rs_b,
                            nr, b_packed);
#if PREFETCH_A && PREFETCH_NEXT_B
            NAME(a_prefetch) next_b = {0};
#endif
            for (ptrdiff_t ic = 0; ic < m; ic += blk->mc) {
                ptrdiff_t mc = m - ic < blk->mc ? m - ic : blk->mc;
                P *a_block = a_once ? a_packed + (pc / blk->kc * m_padded + ic) * kc_full : a_packed;
                if (!a_in_place && (!a_once || jc == 0))
                    PACK_PANELS(blk, mc, kc, a + ic * rs_a + pc * cs_a, rs_a, cs_a, mr, a_block);
#if PREFETCH_A
                NAME(a_prefetch) next_a = {0}; /* the next block: down the rows, else along k */
                ptrdiff_t calls = (mc + mr - 1) / mr * ((nc + nr - 1) / nr);
                if (a_in_place || (a_once && jc > 0)) {
                    /* A was packed on the first panel of B: nothing to fetch */
                } else if (ic + mc < m) {
                    ptrdiff_t rows = m - ic - mc < blk->mc ? m - ic - mc : blk->mc;
                    NAME(a_prefetch_plan)(&next_a, a, sizeof(TA), rs_a, cs_a, ic + mc, rows,
                                          pc, kc, calls, a_once ? a_block + mc * kc_full : NULL,
                                          (rows + mr - 1) / mr * mr * kc_packed);
                } else {
                    ptrdiff_t rows = m < blk->mc ? m : blk->mc;
                    ptrdiff_t steps = k - pc - kc < blk->kc ? k - pc - kc : blk->kc;
                    NAME(a_prefetch_plan)(&next_a, a, sizeof(TA), rs_a, cs_a, 0, rows,
                                          pc + kc, steps, calls,
                                          a_once ? a_block - ic * kc_full + m_padded * kc_full
                                                 : NULL,
                                          (rows + mr - 1) / mr * mr * NAME(kc_packed)(steps));
                }
#if PREFETCH_NEXT_B == 1
                if (ic + mc >= m && !b_in_place)
                    NAME(next_b_plan)(&next_b, blk, b, rs_b, cs_b, n, k, jc, nc, pc, kc, calls);
#elif PREFETCH_NEXT_B == 2
                if (ic == 0 && !b_in_place && blk->fetch_next_b_whole_panel)
                    NAME(next_b_plan)(&next_b, blk, b, rs_b, cs_b, n, k, jc, nc, pc, kc,
                                      (m + mr - 1) / mr * ((nc + nr - 1) / nr));
#endif
#endif
                ptrdiff_t ir0 = 0;
#if PACK_IN_KERNEL
                if (pack_in_kernel && ic == 0) {
                    NAME(first_tiles_packing_b)(blk, nc, kc, a_block, b_block, rs_b, b_packed,
                                                c + jc, ldc, alpha, beta_here, &next_a, &next_b);
                    ir0 = (ptrdiff_t)blk->packing_b_tiles * mr;
                    for (ptrdiff_t ir = 0; ir < ir0 && last_pass && epilogue; ir += mr)
                        epilogue->apply(epilogue, c + ir * ldc + jc, ldc, row0 + ir, col0 + jc, mr,
                                        nc);
                }
#endif
                for (ptrdiff_t ir = ir0; ir < mc; ir += mr) {
                    ptrdiff_t rows = mc - ir < mr ? mc - ir : mr;
                    const P *ap = a_block + ir * kc_packed;
                    T *c_strip = c + (ic + ir) * ldc + jc;
                    for (ptrdiff_t jr = 0; jr < nc; jr += nr) {
                        ptrdiff_t cols = nc - jr < nr ? nc - jr : nr;
                        int in_place = jr < nc_in_place;
                        const P *bp = in_place ? (const P *)(b_block + jr)
                                               : b_packed + (jr - nc_in_place) * kc_packed;
                        ptrdiff_t rs_bp = in_place ? rs_b : nr;
#if PREFETCH_A && FETCH_IN_KERNEL
                        if (rows == mr && cols == nr && !in_place && !a_in_place &&
                            blk->ukernel_fetching && kc >= FASTNN_FETCH_MIN_DEPTH) {
                            fastnn_fetch_lines ahead[2];
                            NAME(a_prefetch_share)(&next_a, &ahead[0]);
#if PREFETCH_NEXT_B
                            NAME(a_prefetch_share)(&next_b, &ahead[1]);
#else
                            ahead[1] = (fastnn_fetch_lines){0};
#endif
                            blk->ukernel_fetching(kc, ap, bp, c_strip + jr, ldc, alpha, beta_here,
                                                  ahead);
                            continue;
                        }
#endif
#if PREFETCH_A
                        NAME(a_prefetch_some)(&next_a);
#if PREFETCH_NEXT_B
                        NAME(a_prefetch_some)(&next_b);
#endif
#endif
#if READS_SOURCE
                        if (a_in_place) {
                            NAME(strided_a_tile)(blk, kc, a + (ic + ir) * rs_a + pc * cs_a, rs_a,
                                                 cs_a, bp, rs_bp, c_strip + jr, ldc, cols, alpha,
                                                 beta_here);
                            continue;
                        }
#endif
                        if (rows == mr && cols == nr)
                            blk->ukernel(kc, ap, bp, rs_bp, c_strip + jr, ldc, alpha, beta_here);
                        else
                            NAME(edge_tile)(blk, kc, ap, bp, rs_bp, c_strip + jr, ldc, rows, cols,
                                            alpha, beta_here);
                    }
                    if (last_pass && epilogue)
                        epilogue->apply(epilogue, c_strip, ldc, row0 + ic + ir, col0 + jc, rows, nc);
                }
            }
        }
    }
}

/* Rows in chunks whose packed A the buffer holds whole (in its a_room elements for A), when B has
 * several panels: each chunk packs the panels of B again, which costs a few multiply-adds per
 * element of B against the chunk's hundreds of rows of work with it. */
static void NAME(gemm_serial)(const BLOCKING_TYPE *blk, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                              T alpha, const TA *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                              const TB *b, ptrdiff_t rs_b, ptrdiff_t cs_b, T beta, T *c,
                              ptrdiff_t ldc, const fastnn_epilogue *epilogue, ptrdiff_t row0,
                              ptrdiff_t col0, P *a_packed, P *b_packed, size_t a_room)
{
    ptrdiff_t chunk = (ptrdiff_t)(a_room / NAME(packed_a_elements)(blk, blk->mr, k)) * blk->mr;
    if (n <= blk->nc || chunk < blk->mc)
        chunk = m;
    for (ptrdiff_t i0 = 0; i0 < m; i0 += chunk)
        NAME(gemm_rows)(blk, m - i0 < chunk ? m - i0 : chunk, n, k, alpha, a + i0 * rs_a, rs_a,
                        cs_a, b, rs_b, cs_b, beta, c + i0 * ldc, ldc, epilogue, row0 + i0, col0,
                        a_packed, b_packed, a_room);
}

#if DOT_KERNELS
#ifndef DOT_UKERNEL
#define DOT_UKERNEL dot_ukernel
#define DOT_TILE(blk, k, a, lda, rows, b, ldb, cols, c, ldc, alpha, beta)                         \
    (blk)->dot_ukernel(k, a, lda, rows, b, ldb, cols, c, ldc, alpha, beta)
#define DOT_UKERNEL_DEFINED_HERE
#endif
/* The path for few rows or columns of C with both operands contiguous along k (X W^T at a
 * small batch, or into a few outputs, on the wide dot tile where it takes fewer groups of
 * columns):
 * dot-product micro-kernels read A and B where they are, so W is not transposed into panels,
 * which would cost as much as the product. Each DN-row group of B stays in L1 while all the rows
 * of A (a few, in L2) stream past it; the epilogue runs once C is complete. */
static void NAME(gemm_dot)(const BLOCKING_TYPE *blk, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                           T alpha, const TA *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                           const TB *b, ptrdiff_t rs_b, ptrdiff_t cs_b, T beta, T *c,
                           ptrdiff_t ldc, const fastnn_epilogue *epilogue, ptrdiff_t row0,
                           ptrdiff_t col0, P *a_packed, P *b_packed, size_t a_room)
{
    (void)cs_a, (void)rs_b, (void)a_packed, (void)b_packed, (void)a_room;
    int dm = blk->dot_mr, dn = blk->dot_nr, wide = 0;
    ptrdiff_t block = m; /* rows of A a column group reads before the next group */
    (void)wide; /* read only where the set may have a wide tile */
#if WIDE_DOT_TILES
    if (blk->dot_wide_ukernel && ceil_div(n, blk->dot_wide_nr) < ceil_div(n, dn)) {
        wide = 1, dm = blk->dot_wide_mr, dn = blk->dot_wide_nr;
        block = (ptrdiff_t)(FASTNN_DOT_ROW_BLOCK_BYTES / ((size_t)k * sizeof(TA))) / dm * dm;
        block = block < dm ? dm : block;
    }
#endif
    for (ptrdiff_t i0 = 0; i0 < m; i0 += block)
        for (ptrdiff_t j = 0; j < n; j += dn)
            for (ptrdiff_t i = i0; i < m && i < i0 + block; i += dm) {
                const TA *ai = a + i * rs_a;
                const TB *bj = b + j * cs_b;
                const ptrdiff_t rows = m - i < dm ? m - i : dm, cols = n - j < dn ? n - j : dn;
#if WIDE_DOT_TILES
                if (wide) {
                    blk->dot_wide_ukernel(k, ai, rs_a, rows, bj, cs_b, cols, c + i * ldc + j, ldc,
                                          alpha, beta);
                    continue;
                }
#endif
                DOT_TILE(blk, k, ai, rs_a, rows, bj, cs_b, cols, c + i * ldc + j, ldc, alpha, beta);
            }
    if (epilogue)
        epilogue->apply(epilogue, c, ldc, row0, col0, m, n);
}
#endif

/* k == 0 (or alpha == 0): C = beta * C, then the epilogue. */
static void NAME(scale_only)(ptrdiff_t m, ptrdiff_t n, T beta, T *c, ptrdiff_t ldc,
                             const fastnn_epilogue *epilogue)
{
    for (ptrdiff_t i = 0; i < m; i++) {
        T *row = c + i * ldc;
        if (beta == 0)
            memset(row, 0, sizeof(T) * (size_t)n);
        else
            for (ptrdiff_t j = 0; j < n; j++) row[j] *= beta;
    }
    if (epilogue)
        epilogue->apply(epilogue, c, ldc, 0, 0, m, n);
}

/* What every unit of one product shares (gemm.c hands the units to the threads). */
typedef void (*NAME(gemm_serial_fn))(const BLOCKING_TYPE *, ptrdiff_t, ptrdiff_t, ptrdiff_t, T,
                                     const TA *, ptrdiff_t, ptrdiff_t, const TB *, ptrdiff_t,
                                     ptrdiff_t, T, T *, ptrdiff_t, const fastnn_epilogue *,
                                     ptrdiff_t, ptrdiff_t, P *, P *, size_t);
typedef struct {
    const BLOCKING_TYPE *blk;
    NAME(gemm_serial_fn) serial;
    ptrdiff_t m, n, k;
    T alpha, beta;
    const TA *a;
    const TB *b;
    ptrdiff_t rs_a, cs_a, rs_b, cs_b, ldc;
    T *c;
    const fastnn_epilogue *epilogue;
    unit_grid grid;
    size_t b_panel_elements, a_elements; /* each thread's buffer: B's panel, then room for A */
} NAME(gemm_job);

/* One block of C, on whichever thread claimed it, with that thread's packing buffer. */
static int NAME(gemm_unit)(void *context, ptrdiff_t unit)
{
    const NAME(gemm_job) *job = context;
    ptrdiff_t m0, m1, n0, n1;
    unit_block(&job->grid, job->m, job->n, job->blk->mr, job->blk->nr, unit, &m0, &m1, &n0, &n1);
    P *buffer = packing_buffer(sizeof(P) * (job->b_panel_elements + job->a_elements));
    if (buffer == NULL)
        return -1;
    if (m1 > m0 && n1 > n0) {
        unsigned int fp_state = fastnn_flush_denormals_begin();
        job->serial(job->blk, m1 - m0, n1 - n0, job->k, job->alpha, job->a + m0 * job->rs_a,
                    job->rs_a, job->cs_a, job->b + n0 * job->cs_b, job->rs_b, job->cs_b, job->beta,
                    job->c + m0 * job->ldc + n0, job->ldc, job->epilogue, m0, n0,
                    buffer + job->b_panel_elements, buffer, job->a_elements);
        fastnn_flush_denormals_end(fp_state);
    }
    return 0;
}

static int NAME(fastnn_gemm)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, T alpha,
                      const TA *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                      const TB *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                      T beta, T *c, ptrdiff_t ldc, const fastnn_epilogue *epilogue)
{
    if (m <= 0 || n <= 0)
        return 0;
    if (k <= 0 || alpha == 0) {
        NAME(scale_only)(m, n, beta, c, ldc, epilogue);
        return 0;
    }
    const BLOCKING_TYPE *blk = fastnn_active_context()->BLOCKING;
#if NARROW_TILES
    /* the rows tiled with the least padding (chosen by m alone: every split sums alike) */
    if (blk->narrow && ceil_div(m, blk->narrow->mr) * blk->narrow->mr < ceil_div(m, blk->mr) * blk->mr)
        blk = blk->narrow;
#endif
#if TALL_TILES
    /* a few rows in fewer, taller tiles where that pads no more rows: each tile of rows reads B
     * whole (chosen by m alone, and each element sums over k as on any tile) */
    if (blk->tall && m <= FASTNN_TALL_TILES_MAX_ROWS(blk->mr) &&
        ceil_div(m, blk->tall->mr) < ceil_div(m, blk->mr) &&
        ceil_div(m, blk->tall->mr) * blk->tall->mr <= ceil_div(m, blk->mr) * blk->mr)
        blk = blk->tall;
#endif
    /* one buffer per thread, sized by the chosen table's blocks whatever this product's, so
     * that it is allocated once per table (a set with a narrow blocking may grow it once more,
     * for the table with the larger blocks): the B panel, then (64-byte aligned) at least a
     * block of A */
    size_t b_panel_elements = ((size_t)blk->kc * blk->nc + 31) & ~(size_t)31;
    size_t a_block_elements = (size_t)blk->mc * (size_t)NAME(kc_packed)(blk->kc);
    BLOCKING_TYPE blocking = *blk; /* this product's: passes over k of equal depth */
    blocking.kc = balanced_kc(k, blk->kc);
#if PREFETCH_A && PREFETCH_NEXT_B == 2
    if (m <= FETCH_NEXT_B_MAX_ROWS && blk->nc >= 2 * blk->nr) { /* see PREFETCH_NEXT_B */
        blocking.nc = blk->nc / 2 / blk->nr * blk->nr;
        blocking.fetch_next_b_whole_panel = 1;
    }
#endif
    blk = &blocking;
    NAME(gemm_serial_fn) serial = NAME(gemm_serial);
#if DOT_KERNELS /* chosen for the whole product, so that every thread count sums in one order */
    /* Few rows take the dot kernels only for deep products: at k = 64 packing wins (the
     * 64-64-64-10 step at batch 32: 20.5 -> 14.8 us with packing, one core, Zen 5). */
    if (blk->DOT_UKERNEL && cs_a == 1 && rs_b == 1 &&
        ((m <= blk->dot_max_rows && k >= FASTNN_DOT_MIN_DEPTH) || n <= FASTNN_DOT_MAX_COLS(blk->nr)))
        serial = NAME(gemm_dot);
#endif
    int threads = gemm_threads(m, n, k);
    NAME(gemm_job) job = {
        .blk = blk, .serial = serial, .m = m, .n = n, .k = k,
        .alpha = alpha, .beta = beta, .a = a, .b = b, .rs_a = rs_a, .cs_a = cs_a, .rs_b = rs_b,
        .cs_b = cs_b, .ldc = ldc, .c = c, .epilogue = epilogue,
        .grid = choose_unit_grid(m, n, k, blk->mr, blk->nr, blk->nc, threads),
        .b_panel_elements = b_panel_elements,
        .a_elements = a_block_elements,
    };
    /* room for a unit's whole A packed, or as much of it as FASTNN_GEMM_A_ONCE_MAX_BYTES allows,
     * where a unit spans several panels of B (gemm_rows) */
    ptrdiff_t unit_rows = ceil_div(ceil_div(m, blk->mr), job.grid.rows) * blk->mr;
    size_t a_whole = NAME(packed_a_elements)(blk, unit_rows, k);
    if (a_whole * sizeof(P) > FASTNN_GEMM_A_ONCE_MAX_BYTES)
        a_whole = FASTNN_GEMM_A_ONCE_MAX_BYTES / sizeof(P);
    ptrdiff_t unit_cols = ceil_div(ceil_div(n, blk->nr), job.grid.cols) * blk->nr;
    if (serial == NAME(gemm_serial) && unit_cols > blk->nc && a_whole > job.a_elements)
        job.a_elements = a_whole;
    ptrdiff_t units = (ptrdiff_t)job.grid.rows * job.grid.cols;
    if (units == 1) /* no thread pool at all: it costs microseconds on small products */
        return NAME(gemm_unit)(&job, 0);
    return fastnn_run_units(threads, units, NAME(gemm_unit), &job, 1);
}

#ifdef PACK_PANELS_DEFINED_HERE
#undef PACK_PANELS
#undef PACK_PANELS_DEFINED_HERE
#endif
#ifdef DOT_UKERNEL_DEFINED_HERE
#undef DOT_UKERNEL
#undef DOT_TILE
#undef DOT_UKERNEL_DEFINED_HERE
#endif
#ifdef TALL_TILES_DEFINED_HERE
#undef TALL_TILES
#undef TALL_TILES_DEFINED_HERE
#endif
#ifdef WIDE_DOT_TILES_DEFINED_HERE
#undef WIDE_DOT_TILES
#undef WIDE_DOT_TILES_DEFINED_HERE
#endif
#ifdef TA_DEFINED_HERE
#undef TA
#undef TA_DEFINED_HERE
#endif
#ifdef TB_DEFINED_HERE
#undef TB
#undef TB_DEFINED_HERE
#endif
