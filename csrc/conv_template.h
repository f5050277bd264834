/* The convolution drivers of conv.c, written once and instantiated for float and double with
 *   T         the element type
 *   NAME(x)   x with the type's suffix
 *   GEMM      fastnn_sgemm or fastnn_dgemm
 *   ACTS      the member of fastnn_activation_kernels for T
 */

/* The GEMM's write-back for a convolution: C's rows are output channels, so the bias is one
 * value per row (a Linear's epilogue adds one per column); then the activation, keeping the
 * pre-activation first where asked, with the active ISA's row kernels. */
static void NAME(row_bias_activation)(const fastnn_epilogue *self, void *c, ptrdiff_t ldc,
                                      ptrdiff_t row0, ptrdiff_t col0, ptrdiff_t rows,
                                      ptrdiff_t cols)
{
    T *out = c;
    const T *bias = self->bias;
    if (bias)
        for (ptrdiff_t i = 0; i < rows; i++) {
            T b = bias[row0 + i], *row = out + i * ldc;
            for (ptrdiff_t j = 0; j < cols; j++) row[j] += b;
        }
    T *pre = self->pre_activation ? (T *)self->pre_activation + row0 * self->ld_pre + col0 : NULL;
    if (self->activation.kind != 0 || pre)
        fastnn_active_context()->activations->ACTS.bias_activation(self->activation, rows, cols,
                                                                   NULL, out, ldc, pre,
                                                                   self->ld_pre);
}

/* The write-back of a convolution's forward (row_bias_activation), over its whole output. */
static fastnn_epilogue NAME(conv_epilogue)(const fastnn_conv_geometry *g, const T *bias,
                                           int activation, T *pre)
{
    return (fastnn_epilogue){.apply = NAME(row_bias_activation), .bias = bias,
                             .activation = {.kind = activation}, .pre_activation = pre,
                             .ld_pre = g->out_h * g->out_w};
}

/* The same for one image and group, whose output starts at out_offset: the group's bias. */
static fastnn_epilogue NAME(unit_epilogue)(const fastnn_epilogue *whole, ptrdiff_t grp,
                                           ptrdiff_t mg, ptrdiff_t out_offset)
{
    fastnn_epilogue unit = *whole;
    if (unit.bias)
        unit.bias = (const T *)unit.bias + grp * mg;
    if (unit.pre_activation)
        unit.pre_activation = (T *)unit.pre_activation + out_offset;
    return unit;
}

/* Whether the write-back has anything to do. */
static int NAME(epilogue_needed)(const fastnn_epilogue *e)
{
    return e->bias != NULL || e->activation.kind != 0 || e->pre_activation != NULL;
}

/* Moves len values between the column matrix, at relative pixels [jj, jj + len) of dst laid out
 * in panels of seg pixels pstride apart (dst[(jj / seg) * pstride + jj % seg]), and src[i * step]:
 * copies them there (zeros when src is NULL: padding), or with accumulate adds them back into src. */
static void NAME(move)(T *dst, ptrdiff_t jj, ptrdiff_t len, T *src, ptrdiff_t step, ptrdiff_t seg,
                       ptrdiff_t pstride, int accumulate)
{
    while (len > 0) {
        ptrdiff_t q = jj / seg, r = jj - q * seg, piece = seg - r < len ? seg - r : len;
        T *d = dst + q * pstride + r;
        if (accumulate) {
            if (src)
                for (ptrdiff_t i = 0; i < piece; i++) src[i * step] += d[i];
        } else if (src == NULL) {
            for (ptrdiff_t i = 0; i < piece; i++) d[i] = 0;
        } else if (step == 1 && piece >= 32) { /* below that, a call costs more than the copy */
            memcpy(d, src, sizeof(T) * (size_t)piece);
        } else {
            for (ptrdiff_t i = 0; i < piece; i++) d[i] = src[i * step];
        }
        if (src)
            src += piece * step;
        jj += piece;
        len -= piece;
    }
}

/* One row of the column matrix: the values kernel tap (ki, kj) of one input channel (plane) meets
 * over output pixels [p0, p0 + cols), zero where it lies in the padding, placed as NAME(move)
 * says; with accumulate, the other way (col2im). Walks one output row at a time, so that the
 * taps inside the image are one contiguous copy at stride 1. */
static void NAME(tap_row)(const fastnn_conv_geometry *g, T *plane, ptrdiff_t ki, ptrdiff_t kj,
                          ptrdiff_t p0, ptrdiff_t cols, T *dst, ptrdiff_t seg, ptrdiff_t pstride,
                          int accumulate)
{
    const ptrdiff_t W = g->in_w, OW = g->out_w, sw = g->stride_w;
    const ptrdiff_t off_w = kj * g->dilation_w - g->pad_w;
    /* output columns whose tap lands inside the image: 0 <= ow * sw + off_w < W */
    const ptrdiff_t ow_lo = clamp(ceil_div_signed(-off_w, sw), 0, OW);
    const ptrdiff_t ow_hi = clamp(ceil_div_signed(W - off_w, sw), ow_lo, OW);
    for (ptrdiff_t j = p0; j < p0 + cols;) {
        ptrdiff_t oh = j / OW, ow = j - oh * OW;
        ptrdiff_t run = OW - ow < p0 + cols - j ? OW - ow : p0 + cols - j;
        ptrdiff_t ih = oh * g->stride_h - g->pad_h + ki * g->dilation_h;
        ptrdiff_t lo = clamp(ow_lo, ow, ow + run), hi = clamp(ow_hi, lo, ow + run);
        if (ih < 0 || ih >= g->in_h)
            lo = hi = ow + run;
        ptrdiff_t jj = j - p0;
        NAME(move)(dst, jj, lo - ow, NULL, 0, seg, pstride, accumulate);
        if (hi > lo) /* plane[ih * W + o * sw + off_w] is the tap of output column o */
            NAME(move)(dst, jj + lo - ow, hi - lo, plane + ih * W + lo * sw + off_w, sw, seg,
                       pstride, accumulate);
        NAME(move)(dst, jj + hi - ow, ow + run - hi, NULL, 0, seg, pstride, accumulate);
        j += run;
    }
}

/* im2col (or col2im with accumulate) of `channels` channels starting at plane x into a
 * row-major (channels * taps) x cols matrix, threaded over channels: in col2im each thread adds
 * into its own channels' planes only. */
typedef struct {
    const fastnn_conv_geometry *g;
    T *x, *col;
    ptrdiff_t p0, cols, rows;
    int accumulate;
} NAME(gather_args);

static void NAME(gather_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(gather_args) *a = args;
    const fastnn_conv_geometry *g = a->g;
    const ptrdiff_t kw = g->kernel_w, taps = g->kernel_h * kw, plane = g->in_h * g->in_w;
    for (ptrdiff_t c = lo; c < hi; c++)
        for (ptrdiff_t t = 0; t < taps; t++)
            NAME(tap_row)(g, a->x + c * plane, t / kw, t % kw, a->p0, a->cols,
                          a->col + (c * taps + t) * a->cols, a->cols, 0, a->accumulate);
}

static void NAME(gather)(const fastnn_conv_geometry *g, const T *x, ptrdiff_t channels,
                         ptrdiff_t p0, ptrdiff_t cols, T *col, int accumulate)
{
    NAME(gather_args) a = {.g = g, .x = (T *)x, .col = col, .p0 = p0, .cols = cols,
                           .accumulate = accumulate};
    fastnn_for_each_span(channels * g->kernel_h * g->kernel_w * cols, channels, NAME(gather_span), &a);
}

/* Rows [pc, pc + kc) of the column matrix over pixels [p0, p0 + cols), row p at dst + p * ldb,
 * the lanes from cols up to the next multiple of nr zero. The micro-kernel reads this block in
 * place (its rows ldb apart), as the GEMM reads a row-major B without packing it, so each
 * window value is written once. */
static void NAME(gather_block)(const fastnn_conv_geometry *g, const T *x, ptrdiff_t pc,
                               ptrdiff_t kc, ptrdiff_t p0, ptrdiff_t cols, int nr, T *dst,
                               ptrdiff_t ldb)
{
    const ptrdiff_t kw = g->kernel_w, taps = g->kernel_h * kw, H = g->in_h, W = g->in_w;
    const ptrdiff_t OW = g->out_w, plane = H * W, end = p0 + cols;
    const ptrdiff_t tail = (cols + nr - 1) / nr * nr - cols;
    const int contiguous = rows_are_contiguous(g);
    for (ptrdiff_t p = 0; p < kc; p++) {
        ptrdiff_t k = pc + p, c = k / taps, t = k - c * taps, ki = t / kw, kj = t - ki * kw;
        T *row = dst + p * ldb, *src = (T *)x + c * plane;
        if (!contiguous && g->stride_w == 1) {
            /* whole output rows: zeros, one copy, zeros, with the columns' range found once */
            const ptrdiff_t off_w = kj * g->dilation_w - g->pad_w;
            const ptrdiff_t ow_lo = clamp(-off_w, 0, OW), ow_hi = clamp(W - off_w, ow_lo, OW);
            const ptrdiff_t first = (p0 + OW - 1) / OW * OW, last = end / OW * OW;
            if (first >= last) {
                NAME(tap_row)(g, src, ki, kj, p0, cols, row, cols, 0, 0);
            } else {
                if (first > p0)
                    NAME(tap_row)(g, src, ki, kj, p0, first - p0, row, first - p0, 0, 0);
                for (ptrdiff_t j = first; j < last; j += OW) {
                    T *d = row + (j - p0);
                    ptrdiff_t ih = j / OW * g->stride_h - g->pad_h + ki * g->dilation_h;
                    if (ih < 0 || ih >= H) {
                        for (ptrdiff_t o = 0; o < OW; o++) d[o] = 0;
                        continue;
                    }
                    const ptrdiff_t base = ih * W + off_w;
                    for (ptrdiff_t o = 0; o < ow_lo; o++) d[o] = 0;
                    for (ptrdiff_t o = ow_lo; o < ow_hi; o++) d[o] = src[base + o];
                    for (ptrdiff_t o = ow_hi; o < OW; o++) d[o] = 0;
                }
                if (end > last)
                    NAME(tap_row)(g, src, ki, kj, last, end - last, row + (last - p0), end - last, 0, 0);
            }
        } else if (!contiguous) {
            NAME(tap_row)(g, src, ki, kj, p0, cols, row, cols, 0, 0);
        } else {
            /* pixel j reads src[j + shift]; the output rows whose input row is inside the image
             * are [oh_lo, oh_hi), and within them the columns [ow_lo, ow_hi) */
            const ptrdiff_t off_h = ki * g->dilation_h - g->pad_h, off_w = kj * g->dilation_w - g->pad_w;
            const ptrdiff_t shift = off_h * W + off_w;
            const ptrdiff_t oh_lo = clamp(ceil_div_signed(-off_h, g->stride_h), 0, g->out_h);
            const ptrdiff_t oh_hi = clamp(ceil_div_signed(H - off_h, g->stride_h), oh_lo, g->out_h);
            const ptrdiff_t ow_lo = clamp(-off_w, 0, OW), ow_hi = clamp(W - off_w, ow_lo, OW);
            ptrdiff_t lo = clamp(oh_lo * OW, p0, end), hi = clamp(oh_hi * OW, lo, end);
            /* the copy, kept inside the plane: what it leaves out is padding */
            ptrdiff_t copy_lo = clamp(-shift, lo, hi), copy_hi = clamp(plane - shift, copy_lo, hi);
            memset(row, 0, sizeof(T) * (size_t)(copy_lo - p0));
            memcpy(row + (copy_lo - p0), src + copy_lo + shift, sizeof(T) * (size_t)(copy_hi - copy_lo));
            memset(row + (copy_hi - p0), 0, sizeof(T) * (size_t)(end - copy_hi));
            if (ow_lo > 0 || ow_hi < OW)
                for (ptrdiff_t oh = lo / OW; oh * OW < hi; oh++) {
                    ptrdiff_t first = oh * OW;
                    for (ptrdiff_t j = clamp(first, lo, hi); j < clamp(first + ow_lo, lo, hi); j++)
                        row[j - p0] = 0;
                    for (ptrdiff_t j = clamp(first + ow_hi, lo, hi); j < clamp(first + OW, lo, hi); j++)
                        row[j - p0] = 0;
                }
        }
        for (ptrdiff_t r = 0; r < tail; r++) row[cols + r] = 0;
    }
}

/* All `rows` rows of the column matrix over pixels [p0, p0 + cols), row-major, threaded over
 * rows: the windows the weight gradient's GEMM reads. */
static void NAME(gather_rows_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(gather_args) *a = args;
    NAME(gather_block)(a->g, a->x, lo, hi - lo, a->p0, a->cols, 1, a->col + lo * a->cols, a->cols);
}

static void NAME(gather_rows)(const fastnn_conv_geometry *g, const T *x, ptrdiff_t rows,
                              ptrdiff_t p0, ptrdiff_t cols, T *col)
{
    NAME(gather_args) a = {.g = g, .x = (T *)x, .col = col, .p0 = p0, .cols = cols, .rows = rows};
    fastnn_for_each_span(rows * cols, rows, NAME(gather_rows_span), &a);
}

#include "pack_transposed_panel.h"

/* Row-major matrices (`count` of them, `stride` values apart, each mg rows of `cols` values, ld
 * apart) as panels of mr rows, k-major: panel[p * mr + r] = src[(q * mr + r) * ld + p], zero
 * past the last row; matrix i's panels from dst + i * panels * cols * mr. The weights of every
 * group (packed once per call and shared by every image and thread), and the weight gradient's
 * delta band. */
static void NAME(pack_panels)(const BLOCKING_TYPE *blk, const T *src, ptrdiff_t count,
                              ptrdiff_t mg, ptrdiff_t ld, ptrdiff_t cols, ptrdiff_t stride, T *dst)
{
    const int mr = blk->mr;
    for (ptrdiff_t i = 0; i < count; i++, src += stride)
        for (ptrdiff_t q = 0; q * mr < mg; q++, dst += cols * mr) {
            const ptrdiff_t rows = mg - q * mr < mr ? mg - q * mr : mr;
            NAME(pack_transposed_panel)(blk, cols, src + q * mr * ld, ld, rows, mr, dst);
        }
}

/* An edge tile: the micro-kernel fills a scratch tile, of which rows x cols go into C. */
static void NAME(edge_tile)(const BLOCKING_TYPE *blk, ptrdiff_t kc, const T *ap, const T *bp,
                            ptrdiff_t rs_b, T *c, ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols,
                            T beta)
{
    T tile[FASTNN_MAX_MR * FASTNN_MAX_NR] __attribute__((aligned(64)));
    blk->ukernel(kc, ap, bp, rs_b, tile, blk->nr, (T)1, (T)0);
    for (ptrdiff_t i = 0; i < rows; i++)
        for (ptrdiff_t j = 0; j < cols; j++)
            c[i * ldc + j] = tile[i * blk->nr + j] + (beta != 0 ? beta * c[i * ldc + j] : 0);
}

/* For each panel of nr pixels from p0 (cols in all) and each tap: where the tap's values start
 * relative to the channel's plane (offsets[panel * taps + t]) and which lanes lie inside the
 * image (masks[(panel * taps + t) * nr + r], all ones or zero), for the contiguous convolutions
 * (rows_are_contiguous), where pixel j's tap reads plane[j + shift]. */
static void NAME(panel_masks)(const fastnn_conv_geometry *g, ptrdiff_t p0, ptrdiff_t cols, int nr,
                              BITS *masks, ptrdiff_t *offsets)
{
    const ptrdiff_t taps = g->kernel_h * g->kernel_w, OW = g->out_w;
    for (ptrdiff_t jp = 0; jp * nr < cols; jp++)
        for (ptrdiff_t t = 0; t < taps; t++) {
            const ptrdiff_t off_h = t / g->kernel_w * g->dilation_h - g->pad_h;
            const ptrdiff_t off_w = t % g->kernel_w * g->dilation_w - g->pad_w;
            offsets[jp * taps + t] = p0 + jp * nr + off_h * g->in_w + off_w;
            BITS *mask = masks + (jp * taps + t) * nr;
            for (int r = 0; r < nr; r++) {
                ptrdiff_t j = p0 + jp * nr + r, oh = j / OW, ow = j - oh * OW;
                ptrdiff_t ih = oh * g->stride_h + off_h, iw = ow + off_w;
                int inside = j < p0 + cols && ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w;
                mask[r] = inside ? ~(BITS)0 : 0;
            }
        }
}

/* The panel path's scratch: a kc x nr panel, then the masks and offsets of every panel of nc
 * pixels. */
static size_t NAME(panel_path_bytes)(const fastnn_conv_geometry *g, ptrdiff_t kc, ptrdiff_t nc, int nr)
{
    ptrdiff_t col_panels = (nc + nr - 1) / nr, taps = g->kernel_h * g->kernel_w;
    return sizeof(T) * (size_t)(kc * col_panels * nr) + sizeof(BITS) * (size_t)(col_panels * taps * nr) +
           sizeof(ptrdiff_t) * (size_t)(col_panels * taps);
}

/* What one forward call shares among its threads. */
typedef struct {
    const fastnn_conv_geometry *g;
    const BLOCKING_TYPE *blk;
    const T *x, *w_packed;
    T *y;
    fastnn_epilogue epilogue; /* over the whole output (conv_epilogue) */
    NAME(conv_gather) gather; /* the ISA's panel gather, where the windows are contiguous */
    ptrdiff_t rows, pixels, kc, k_blocks, nc, ldb, col_blocks;
    size_t block_bytes;   /* each thread's block (and lane masks) */
    unsigned long call;   /* this call's number: lane masks kept from another call are stale */
} NAME(forward_plan);

/* One unit of work: output pixels [p0, p0 + nc) of one image and group, all its channels. The
 * loops are the GEMM's (gemm_loop_nest.h): a kc x nc block of windows gathered into L2, an
 * mr x kc panel of weights in L1, the micro-kernel streaming the block nr columns at a time.
 * Units run column block by column block (the images and groups inside), so that the lane
 * masks, which depend on the pixels only, are computed once per block and thread
 * (*masks_block says for which). */
static void NAME(forward_unit)(const NAME(forward_plan) *plan, ptrdiff_t unit, T *block,
                               ptrdiff_t *masks_block)
{
    const fastnn_conv_geometry *g = plan->g;
    const BLOCKING_TYPE *blk = plan->blk;
    const int mr = blk->mr, nr = blk->nr;
    const ptrdiff_t groups = g->groups, mg = g->out_channels / groups, cg = g->in_channels / groups;
    const ptrdiff_t jb = unit / (g->batch * groups), grp = unit % groups;
    const ptrdiff_t n = unit / groups % g->batch, pixels = plan->pixels, rows = plan->rows;
    const ptrdiff_t p0 = jb * plan->nc, cols = pixels - p0 < plan->nc ? pixels - p0 : plan->nc;
    const ptrdiff_t panels = (mg + mr - 1) / mr;
    const T *xg = plan->x + (n * g->in_channels + grp * cg) * g->in_h * g->in_w;
    const ptrdiff_t out_offset = (n * g->out_channels + grp * mg) * pixels;
    const fastnn_epilogue epilogue = NAME(unit_epilogue)(&plan->epilogue, grp, mg, out_offset);
    const int fused = NAME(epilogue_needed)(&epilogue);
    if (plan->gather) {
        /* the ISA's gather writes the kc x nc block of windows straight in the packed panels the
         * micro-kernel streams (vector moves under lane masks); then each mr x kc panel of
         * weights, held in L1, meets every panel of the block */
        const ptrdiff_t taps = g->kernel_h * g->kernel_w, col_panels = (cols + nr - 1) / nr;
        BITS *masks = (BITS *)(block + plan->kc * col_panels * nr);
        ptrdiff_t *offsets = (ptrdiff_t *)(masks + col_panels * taps * nr);
        if (*masks_block != jb)
            NAME(panel_masks)(g, p0, cols, nr, masks, offsets);
        *masks_block = jb;
        for (ptrdiff_t kb = 0; kb < plan->k_blocks; kb++) {
            ptrdiff_t pc = kb * plan->kc, kc = rows - pc < plan->kc ? rows - pc : plan->kc;
            T beta = kb == 0 ? 0 : 1;
            for (ptrdiff_t jp = 0; jp < col_panels; jp++)
                plan->gather(pc, kc, taps, (const BITS *)xg, cg * g->in_h * g->in_w,
                             g->in_h * g->in_w, offsets + jp * taps, masks + jp * taps * nr,
                             (BITS *)(block + jp * kc * nr));
            for (ptrdiff_t q = 0; q < panels; q++) {
                ptrdiff_t rows_here = mg - q * mr < mr ? mg - q * mr : mr;
                const T *ap = plan->w_packed + ((grp * panels + q) * rows + pc) * mr;
                T *c = plan->y + out_offset + q * mr * pixels + p0;
                for (ptrdiff_t jp = 0; jp < col_panels; jp++) {
                    ptrdiff_t cols_here = cols - jp * nr < nr ? cols - jp * nr : nr;
                    const T *bp = block + jp * kc * nr;
                    if (rows_here == mr && cols_here == nr)
                        blk->ukernel(kc, ap, bp, nr, c + jp * nr, pixels, (T)1, beta);
                    else
                        NAME(edge_tile)(blk, kc, ap, bp, nr, c + jp * nr, pixels, rows_here,
                                        cols_here, beta);
                }
            }
        }
        if (fused)
            for (ptrdiff_t q = 0; q < panels; q++)
                epilogue.apply(&epilogue, plan->y + out_offset + q * mr * pixels + p0, pixels,
                               q * mr, p0, mg - q * mr < mr ? mg - q * mr : mr, cols);
        return;
    }
    for (ptrdiff_t kb = 0; kb < plan->k_blocks; kb++) {
        ptrdiff_t pc = kb * plan->kc, kc = rows - pc < plan->kc ? rows - pc : plan->kc;
        T beta = kb == 0 ? 0 : 1;
        NAME(gather_block)(g, xg, pc, kc, p0, cols, nr, block, plan->ldb);
        for (ptrdiff_t q = 0; q < panels; q++) {
            ptrdiff_t rows_here = mg - q * mr < mr ? mg - q * mr : mr;
            const T *ap = plan->w_packed + ((grp * panels + q) * rows + pc) * mr;
            T *c = plan->y + out_offset + q * mr * pixels + p0;
            for (ptrdiff_t jr = 0; jr < cols; jr += nr) {
                if (rows_here == mr && cols - jr >= nr)
                    blk->ukernel(kc, ap, block + jr, plan->ldb, c + jr, pixels, (T)1, beta);
                else
                    NAME(edge_tile)(blk, kc, ap, block + jr, plan->ldb, c + jr, pixels, rows_here,
                                    cols - jr < nr ? cols - jr : nr, beta);
            }
            if (kb == plan->k_blocks - 1 && fused)
                epilogue.apply(&epilogue, c, pixels, q * mr, p0, rows_here, cols);
        }
    }
}

/* A unit on whichever thread takes it (thread_pool.h), with that thread's block buffer. */
static int NAME(forward_run)(void *context, ptrdiff_t unit)
{
    const NAME(forward_plan) *plan = context;
    T *block = window_buffer(0, plan->block_bytes);
    if (block == NULL)
        return 1;
    if (masks_call != plan->call) {
        masks_call = plan->call;
        masks_block = -1;
    }
    unsigned int fp_state = fastnn_flush_denormals_begin();
    NAME(forward_unit)(plan, unit, block, &masks_block);
    fastnn_flush_denormals_end(fp_state);
    return 0;
}

#include "conv_rows_template.h"

/* The implicit GEMM's blocking for a geometry (blocks of k and of output pixels, the block's row
 * stride, the ISA's gather where the windows are contiguous, the block's bytes), and the bytes
 * of its packed weights. */
static size_t NAME(gather_plan)(const fastnn_conv_geometry *g, NAME(forward_plan) *plan)
{
    const BLOCKING_TYPE *blk = plan->blk = fastnn_active_context()->BLOCKING;
    const ptrdiff_t mg = g->out_channels / g->groups, panels = (mg + blk->mr - 1) / blk->mr;
    plan->g = g;
    plan->rows = g->in_channels / g->groups * g->kernel_h * g->kernel_w;
    plan->pixels = g->out_h * g->out_w;
    /* k split evenly into blocks of at most KC, so no block is a sliver */
    plan->k_blocks = (plan->rows + blk->kc - 1) / blk->kc;
    plan->kc = (plan->rows + plan->k_blocks - 1) / plan->k_blocks;
    plan->nc = plan->pixels < blk->nc ? plan->pixels : blk->nc;
    plan->col_blocks = (plan->pixels + plan->nc - 1) / plan->nc;
    plan->ldb = block_stride(plan->nc, blk->nr, sizeof(T));
    plan->gather = rows_are_contiguous(g) ? NAME(active_gather)(blk->nr) : NULL;
    plan->block_bytes = plan->gather ? NAME(panel_path_bytes)(g, plan->kc, plan->nc, blk->nr)
                                     : sizeof(T) * (size_t)(plan->kc * plan->ldb);
    return sizeof(T) * (size_t)(g->groups * panels * blk->mr * plan->rows);
}

/* The bytes each of window_buffer's slots holds after a forward: its largest request. */
static void NAME(forward_slots)(const fastnn_conv_geometry *g, size_t slots[WINDOW_SLOTS])
{
    if (NAME(rows_path_applies)(g, NAME(rows_nr)())) {
        NAME(rows_forward_slots)(g, slots);
        return;
    }
    NAME(forward_plan) plan;
    slot_grows_to(slots, 2, NAME(gather_plan)(g, &plan));
    slot_grows_to(slots, 0, plan.block_bytes);
}

int NAME(fastnn_conv2d_forward)(const fastnn_conv_geometry *g, const T *x, const T *w,
                                const T *bias, int activation, T *y, T *pre)
{
    if (NAME(rows_path_applies)(g, NAME(rows_nr)()))
        return NAME(forward_by_rows)(g, x, w, bias, activation, y, pre);
    NAME(forward_plan) plan = {.x = x, .y = y};
    T *w_packed = window_buffer(2, NAME(gather_plan)(g, &plan));
    if (w_packed == NULL)
        return -1;
    const ptrdiff_t mg = g->out_channels / g->groups;
    NAME(pack_panels)(plan.blk, w, g->groups, mg, plan.rows, plan.rows, mg * plan.rows, w_packed);
    plan.w_packed = w_packed;
    plan.epilogue = NAME(conv_epilogue)(g, bias, activation, pre);
    const ptrdiff_t units = g->batch * g->groups * plan.col_blocks;
    plan.call = __atomic_add_fetch(&conv_calls, 1, __ATOMIC_RELAXED);
    int threads = conv_threads((double)g->batch * g->out_channels * plan.rows * plan.pixels, units);
    return fastnn_run_units(threads, units, NAME(forward_run), &plan, 0) ? -1 : 0;
}

/* The input gradient of a stride-1 convolution is itself a stride-1 convolution: of delta, by
 * the weights flipped in both spatial axes with input and output channels swapped, padded by
 * the kernel's span minus the forward padding. It runs on the forward's implicit GEMM (and its
 * ISA gather), where col2im would scatter every window back. Returns 1 if it applied, 0 if the
 * geometry is not one it covers (strided, padding wider than the kernel's reach, or windows
 * that are not contiguous), -1 if a buffer could not be allocated. */
static int NAME(input_grad_by_transposed_conv)(const fastnn_conv_geometry *g, const T *w,
                                               const T *delta, T *dx)
{
    fastnn_conv_geometry transposed;
    if (!transposed_geometry(g, &transposed))
        return 0;
    const ptrdiff_t cg = g->in_channels / g->groups, mg = g->out_channels / g->groups;
    const ptrdiff_t kh = g->kernel_h, kw = g->kernel_w, taps = kh * kw;
    T *flipped = window_buffer(3, sizeof(T) * (size_t)(g->in_channels * mg * taps));
    if (flipped == NULL)
        return -1;
    for (ptrdiff_t grp = 0; grp < g->groups; grp++)
        for (ptrdiff_t o = 0; o < mg; o++)
            for (ptrdiff_t c = 0; c < cg; c++)
                for (ptrdiff_t t = 0; t < taps; t++)
                    flipped[((grp * cg + c) * mg + o) * taps + (taps - 1 - t)] =
                        w[((grp * mg + o) * cg + c) * taps + t];
    return NAME(fastnn_conv2d_forward)(&transposed, delta, flipped, NULL, 0, dx, NULL) ? -1 : 1;
}

/* Whether the weight gradient runs by rows (with or without dx, so that dw does not depend on
 * whether dx was asked for). */
static int NAME(dw_by_rows)(const fastnn_conv_geometry *g)
{
    return NAME(rows_dw_applies)(g, fastnn_active_context()->BLOCKING) &&
           !reads_input_as_columns(g);
}

/* The bytes each of window_buffer's slots holds after a backward with dx (the flipped weights
 * and transposed forward, the weight gradient by rows, the windows and their gradient: what
 * fastnn_conv2d_backward below asks for). */
static void NAME(backward_slots)(const fastnn_conv_geometry *g, size_t slots[WINDOW_SLOTS])
{
    const ptrdiff_t mg = g->out_channels / g->groups;
    const ptrdiff_t rows = g->in_channels / g->groups * g->kernel_h * g->kernel_w;
    fastnn_conv_geometry transposed;
    const int dx_transposed = transposed_geometry(g, &transposed);
    if (dx_transposed) {
        slot_grows_to(slots, 3,
                      sizeof(T) * (size_t)(g->in_channels * mg * g->kernel_h * g->kernel_w));
        NAME(forward_slots)(&transposed, slots);
    }
    const int by_rows = NAME(dw_by_rows)(g);
    if (by_rows) {
        NAME(rows_plan) plan;
        NAME(rows_dw_layout) layout;
        NAME(rows_dw_plan_layout)(g, fastnn_active_context()->BLOCKING, &plan, &layout);
        for (int i = 0; i < WINDOW_SLOTS; i++) slot_grows_to(slots, i, layout.slot[i]);
    }
    if (!reads_input_as_columns(g)) {
        const size_t windows = sizeof(T) * (size_t)(rows * chunk_columns(g, sizeof(T)));
        if (!by_rows)
            slot_grows_to(slots, 0, windows);
        if (!dx_transposed)
            slot_grows_to(slots, 1, windows);
    }
}

int NAME(fastnn_conv2d_backward)(const fastnn_conv_geometry *g, const T *x, const T *w,
                                 const T *delta, T *dx, T *dw, int accumulate_dw)
{
    if (dx) {
        int done = NAME(input_grad_by_transposed_conv)(g, w, delta, dx);
        if (done < 0)
            return -1;
        if (done)
            dx = NULL;
    }
    const int dw_by_rows = NAME(dw_by_rows)(g);
    if (dw_by_rows) {
        if (NAME(weight_grad_by_rows)(g, x, delta, dw, accumulate_dw))
            return -1;
        if (dx == NULL)
            return 0;
    }
    const ptrdiff_t cg = g->in_channels / g->groups, mg = g->out_channels / g->groups;
    const ptrdiff_t rows = cg * g->kernel_h * g->kernel_w, pixels = g->out_h * g->out_w;
    const ptrdiff_t plane = g->in_h * g->in_w;
    const int direct = reads_input_as_columns(g);
    const ptrdiff_t chunk = direct ? pixels : chunk_columns(g, sizeof(T));
    T *col = NULL, *dcol = NULL;
    if (!direct) {
        col = dw_by_rows ? NULL : window_buffer(0, sizeof(T) * (size_t)(rows * chunk));
        dcol = dx ? window_buffer(1, sizeof(T) * (size_t)(rows * chunk)) : NULL;
        if ((col == NULL && !dw_by_rows) || (dx && dcol == NULL))
            return -1;
        if (dx)
            memset(dx, 0, sizeof(T) * (size_t)(g->batch * g->in_channels * plane));
    }
    for (ptrdiff_t n = 0; n < g->batch; n++)
        for (ptrdiff_t grp = 0; grp < g->groups; grp++) {
            const T *xg = x + (n * g->in_channels + grp * cg) * plane;
            const T *wg = w + grp * mg * rows;
            const T *dg = delta + (n * g->out_channels + grp * mg) * pixels;
            T *dxg = dx ? dx + (n * g->in_channels + grp * cg) * plane : NULL;
            for (ptrdiff_t p0 = 0; p0 < pixels; p0 += chunk) {
                ptrdiff_t cols = pixels - p0 < chunk ? pixels - p0 : chunk;
                const T *b = direct ? xg + p0 : col;
                const ptrdiff_t ldb = direct ? plane : cols;
                if (!direct && !dw_by_rows)
                    NAME(gather_rows)(g, xg, rows, p0, cols, col);
                /* dw_g += delta_g[:, chunk] (mg x cols) times the windows transposed (cols x rows) */
                T beta = accumulate_dw || n > 0 || p0 > 0 ? 1 : 0;
                if (!dw_by_rows && GEMM(mg, rows, cols, 1, dg + p0, pixels, 1, b, 1, ldb, beta,
                                        dw + grp * mg * rows, rows, NULL))
                    return -1;
                if (!dx)
                    continue;
                /* the windows' gradient: w_gᵀ (rows x mg) times delta_g[:, chunk] */
                if (GEMM(rows, cols, mg, 1, wg, 1, rows, dg + p0, pixels, 1, 0,
                         direct ? dxg + p0 : dcol, direct ? plane : cols, NULL))
                    return -1;
                if (!direct)
                    NAME(gather)(g, dxg, cg, p0, cols, dcol, 1);
            }
        }
    return 0;
}

typedef struct {
    ptrdiff_t batch, channels, spatial;
    const T *x;
    T *sums;
    int accumulate;
} NAME(sums_args);

/* Runs of CHANNEL_SUM_RUN values are summed in 16 lanes of T, which vectorise (in double
 * throughout, the conversions measured 0.46 ms on 2M floats, a fifth of a 3x3 convolution's
 * backward), and each run's sum is added in double: a lane adds at most 16 values in T. */
#define CHANNEL_SUM_RUN 256

static void NAME(channel_sums_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(sums_args) *a = args;
    for (ptrdiff_t c = lo; c < hi; c++) {
        double total = 0;
        for (ptrdiff_t n = 0; n < a->batch; n++) {
            const T *p = a->x + (n * a->channels + c) * a->spatial;
            for (ptrdiff_t i0 = 0; i0 < a->spatial; i0 += CHANNEL_SUM_RUN) {
                const ptrdiff_t len = a->spatial - i0 < CHANNEL_SUM_RUN ? a->spatial - i0 : CHANNEL_SUM_RUN;
                T lanes[16] = {0};
                ptrdiff_t i = 0;
                for (; i + 16 <= len; i += 16)
                    for (int u = 0; u < 16; u++) lanes[u] += p[i0 + i + u];
                for (; i < len; i++) lanes[i & 15] += p[i0 + i];
                double run = 0;
                for (int u = 0; u < 16; u++) run += lanes[u];
                total += run;
            }
        }
        a->sums[c] = (T)(a->accumulate ? total + (double)a->sums[c] : total);
    }
}

void NAME(fastnn_channel_sums)(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                               const T *x, T *sums, int accumulate)
{
    NAME(sums_args) a = {batch, channels, spatial, x, sums, accumulate};
    fastnn_for_each_span(batch * channels * spatial, channels, NAME(channel_sums_span), &a);
}
