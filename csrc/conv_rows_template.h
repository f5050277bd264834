/* The convolution's forward by rows (instantiated by conv.c after conv_template.h, with the same
 * parameters): for the convolutions of stride 1 along rows, no window is gathered at all.
 *
 * A band of an image's input rows is copied once into a padded buffer laid out rows, then
 * channels, then columns: row (r, c) = input channel c of input row r, its padding zeroed, Wp
 * values apart. Output row oh meets kernel column kj through the values
 *     buffer[(oh * sh + ki * dh) * C * Wp + c * Wp + kj * dw + ow]
 * which, for a fixed kj (and with dilation 1 along rows), are a matrix of KH * C rows, k = ki * C
 * + c, each Wp values after the last: a segment, which the tile reads where it lies (rows rs_b
 * apart). So each tile of mr output channels by nr output pixels of one output row is one call
 * of the set's tile kernel (kernels/conv_rows.h), which sums all KW segments (KH * KW with
 * dilation along rows) in its registers and writes its outputs once, bias included, from a buffer
 * about the size of the input (the windows, which the gather writes, are KH * KW times that). The
 * weights are packed once per call into the order the tile reads them: per group, then panel of
 * mr output channels, then segment (kernel column, then run of kernel rows), k-major over
 * k = (ki - the run's first ki) * C + c.
 */

/* What one call shares among its threads. */
typedef struct {
    const fastnn_conv_geometry *g;
    const fastnn_conv_rows_kernels *kernels;
    const T *x, *w_packed, *bias;
    const ptrdiff_t *offsets; /* per segment (kernel column, run of kernel rows): B's start */
    T *y;
    fastnn_epilogue epilogue; /* the activation and pre_activation (the tiles add the bias) */
    ptrdiff_t wp;             /* a buffer row's length: output columns plus the kernel's reach */
    ptrdiff_t rows_per_run;   /* kernel rows one segment covers: KH, or 1 if dilated */
    ptrdiff_t band_rows, bands; /* output rows per unit, units per image and group */
    int threads;
    size_t buffer_bytes;
} NAME(rows_plan);

/* Whether `count` values fill register tiles nr wide but for at most 1/8 of their lanes. */
static int NAME(fills_tiles)(ptrdiff_t count, int nr)
{
    return count > 0 && (count + nr - 1) / nr * nr * 8 <= count * 9;
}

/* The forward by rows' tile width: the active set's (kernels/conv_rows.h). */
static int NAME(rows_nr)(void) { return fastnn_active_context()->conv_rows->NAME(nr); }

/* Whether the forward by rows applies, and pays: stride 1 along rows, and output rows that fill
 * whole register tiles but for a small tail (else every tile would be an edge tile). */
static int NAME(rows_path_applies)(const fastnn_conv_geometry *g, int nr)
{
    return g->stride_w == 1 && NAME(fills_tiles)(g->out_w, nr);
}

/* The weight gradient by rows: where the forward runs by rows and a kernel column's run of k
 * (its kernel rows times the group's channels, the product's columns) fills register tiles too;
 * with few channels (3 -> 32 at 32x32, run_k 9) it measured 4x slower than the column matrix. */
static int NAME(rows_dw_applies)(const fastnn_conv_geometry *g, const BLOCKING_TYPE *blk)
{
    const fastnn_conv_rows_kernels *kernels = fastnn_active_context()->conv_rows;
    const ptrdiff_t rows_per_run = g->dilation_h == 1 ? g->kernel_h : 1;
    /* delta's panels are packed by the GEMM's packer for the tiles of the rows kernels */
    return kernels->NAME(mr) == blk->mr && kernels->NAME(nr) == blk->nr &&
           NAME(rows_path_applies)(g, blk->nr) &&
           NAME(fills_tiles)(rows_per_run * (g->in_channels / g->groups), blk->nr);
}

/* Input rows a band of `rows` output rows reads. */
static ptrdiff_t NAME(band_input_rows)(const fastnn_conv_geometry *g, ptrdiff_t rows)
{
    return (rows - 1) * g->stride_h + (g->kernel_h - 1) * g->dilation_h + 1;
}

/* The band's buffer: its rows, then slack for the last tile of a row, which may read up to nr
 * values past the row (lanes the write-back drops). */
static size_t NAME(band_bytes)(const fastnn_conv_geometry *g, ptrdiff_t rows, ptrdiff_t wp, int nr)
{
    const ptrdiff_t cg = g->in_channels / g->groups;
    return sizeof(T) * (size_t)(NAME(band_input_rows)(g, rows) * cg * wp + 2 * nr);
}

/* Copies the band's `rows` rows (input rows ih0 + r) of a group's cg channels into the band
 * buffer, zero where a row or column lies in the padding, then zeroes the 2 * nr values after
 * them (band_bytes). The rows' copies are the active set's fill. */
static void NAME(fill_band)(const fastnn_conv_geometry *g, const T *xg, ptrdiff_t cg,
                            ptrdiff_t ih0, ptrdiff_t rows, ptrdiff_t wp, int nr, T *buf)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, pw = g->pad_w, plane = H * W;
    /* buffer column b holds input column b - pw */
    const ptrdiff_t b_lo = clamp(pw, 0, wp), b_hi = clamp(W + pw, b_lo, wp), len = b_hi - b_lo;
    const ptrdiff_t r_lo = clamp(-ih0, 0, rows), r_hi = clamp(H - ih0, r_lo, rows);
    memset(buf, 0, sizeof(T) * (size_t)(r_lo * cg * wp));
    memset(buf + r_hi * cg * wp, 0, sizeof(T) * (size_t)((rows - r_hi) * cg * wp + 2 * nr));
    if (r_hi == r_lo)
        return;
    for (ptrdiff_t c = 0; c < cg; c++)
        fastnn_active_context()->conv_rows->NAME(fill)(
            r_hi - r_lo, (const BITS *)(xg + c * plane + (ih0 + r_lo) * W + (b_lo - pw)), W,
            b_lo, len, wp, (BITS *)(buf + (r_lo * cg + c) * wp), cg * wp);
}

/* The weights in the order the tiles read them: per group and panel of mr output channels, each
 * segment (kernel column kj, then run of kernel rows) one after the other, k-major over
 * k = (ki - the run's first ki) * cg + c. */
static void NAME(pack_weights_by_rows)(const fastnn_conv_geometry *g, const T *w, int mr,
                                       ptrdiff_t rows_per_run, T *dst)
{
    const ptrdiff_t groups = g->groups, mg = g->out_channels / groups, cg = g->in_channels / groups;
    const ptrdiff_t kh = g->kernel_h, kw = g->kernel_w, panels = (mg + mr - 1) / mr;
    const ptrdiff_t run_k = rows_per_run * cg;
    for (ptrdiff_t grp = 0; grp < groups; grp++)
        for (ptrdiff_t q = 0; q < panels; q++)
            for (ptrdiff_t kj = 0; kj < kw; kj++)
                for (ptrdiff_t ki0 = 0; ki0 < kh; ki0 += rows_per_run, dst += run_k * mr)
                    for (ptrdiff_t p = 0; p < run_k; p++) {
                        const ptrdiff_t ki = ki0 + p / cg, c = p % cg;
                        for (int r = 0; r < mr; r++) {
                            const ptrdiff_t o = q * mr + r;
                            dst[p * mr + r] = o < mg ? w[(((grp * mg + o) * cg + c) * kh + ki) * kw + kj] : 0;
                        }
                    }
}

/* While one unit computes, the input its thread will likely take next (`ahead` units on) is
 * fetched, a few lines per tile: filling the band then reads cached lines rather than waiting
 * on memory. Into L1 (the fill comes soon after, and the lines that L1 drops stay in L2): a
 * fetch into L2 only left the forward 3% slower (3x3 64 -> 64 at 32x32, one core). */
typedef struct {
    const char *span;             /* the channel span being fetched */
    ptrdiff_t span_bytes, plane_bytes, channels_left, offset, per_step;
} NAME(band_prefetch);

static void NAME(band_prefetch_plan)(NAME(band_prefetch) *pf, const NAME(rows_plan) *plan,
                                     ptrdiff_t unit, ptrdiff_t steps)
{
    const fastnn_conv_geometry *g = plan->g;
    const ptrdiff_t groups = g->groups, cg = g->in_channels / groups;
    *pf = (NAME(band_prefetch)){0};
    if (unit >= g->batch * groups * plan->bands || steps <= 0)
        return;
    const ptrdiff_t band = unit % plan->bands, grp = unit / plan->bands % groups;
    const ptrdiff_t n = unit / (plan->bands * groups), oh0 = band * plan->band_rows;
    const ptrdiff_t oh1 = oh0 + plan->band_rows < g->out_h ? oh0 + plan->band_rows : g->out_h;
    const ptrdiff_t ih0 = oh0 * g->stride_h - g->pad_h;
    const ptrdiff_t r_lo = clamp(ih0, 0, g->in_h);
    const ptrdiff_t r_hi = clamp(ih0 + NAME(band_input_rows)(g, oh1 - oh0), r_lo, g->in_h);
    pf->span = (const char *)(plan->x + ((n * g->in_channels + grp * cg) * g->in_h + r_lo) * g->in_w);
    pf->span_bytes = (r_hi - r_lo) * g->in_w * (ptrdiff_t)sizeof(T);
    pf->plane_bytes = g->in_h * g->in_w * (ptrdiff_t)sizeof(T);
    pf->channels_left = pf->span_bytes > 0 ? cg : 0;
    pf->per_step = (cg * ((pf->span_bytes + 63) / 64 + 1) + steps - 1) / steps;
}

static inline void NAME(band_prefetch_some)(NAME(band_prefetch) *pf)
{
    for (ptrdiff_t i = 0; i < pf->per_step && pf->channels_left > 0; i++) {
        __builtin_prefetch(pf->span + pf->offset, 0, 3);
        pf->offset += 64;
        if (pf->offset >= pf->span_bytes + 64) {
            pf->offset = 0;
            pf->span += pf->plane_bytes;
            pf->channels_left--;
        }
    }
}

/* One unit: output rows [oh0, oh0 + band_rows) of one image and group, all its channels, one
 * tile (mr channels by nr pixels of an output row) at a time over all the kernel's segments. */
static int NAME(rows_run)(void *context, ptrdiff_t unit)
{
    const NAME(rows_plan) *plan = context;
    const fastnn_conv_geometry *g = plan->g;
    const int mr = plan->kernels->NAME(mr), nr = plan->kernels->NAME(nr);
    const ptrdiff_t groups = g->groups, mg = g->out_channels / groups, cg = g->in_channels / groups;
    const ptrdiff_t band = unit % plan->bands, grp = unit / plan->bands % groups;
    const ptrdiff_t n = unit / (plan->bands * groups);
    const ptrdiff_t oh0 = band * plan->band_rows;
    const ptrdiff_t oh1 = oh0 + plan->band_rows < g->out_h ? oh0 + plan->band_rows : g->out_h;
    if (oh0 >= oh1)
        return 0;
    T *buf = window_buffer(0, plan->buffer_bytes);
    if (buf == NULL)
        return 1;
    const ptrdiff_t wp = plan->wp, OW = g->out_w, pixels = g->out_h * OW, sh = g->stride_h;
    const ptrdiff_t segments = g->kernel_w * (g->kernel_h / plan->rows_per_run);
    const ptrdiff_t run_k = plan->rows_per_run * cg, panels = (mg + mr - 1) / mr;
    const T *xg = plan->x + (n * g->in_channels + grp * cg) * g->in_h * g->in_w;
    const ptrdiff_t out_offset = (n * g->out_channels + grp * mg) * pixels;
    const fastnn_epilogue epilogue = NAME(unit_epilogue)(&plan->epilogue, grp, mg, out_offset);

    unsigned int fp_state = fastnn_flush_denormals_begin();
    NAME(fill_band)(g, xg, cg, oh0 * sh - g->pad_h, NAME(band_input_rows)(g, oh1 - oh0), wp, nr,
                    buf);
    const T *w_group = plan->w_packed + grp * panels * segments * run_k * mr;
    NAME(band_prefetch) next;
    NAME(band_prefetch_plan)(&next, plan, unit + plan->threads,
                              panels * (oh1 - oh0) * ((OW + nr - 1) / nr));
    for (ptrdiff_t q = 0; q < panels; q++) {
        const ptrdiff_t rows_here = mg - q * mr < mr ? mg - q * mr : mr;
        const T *ap = w_group + q * segments * run_k * mr;
        /* the panel's bias, padded to mr rows for an edge panel */
        T bias_tile[FASTNN_MAX_MR] = {0};
        const T *bias = plan->bias ? plan->bias + grp * mg + q * mr : NULL;
        if (bias && rows_here < mr) {
            memcpy(bias_tile, bias, sizeof(T) * (size_t)rows_here);
            bias = bias_tile;
        }
        for (ptrdiff_t oh = oh0; oh < oh1; oh++) {
            T *c_row = plan->y + out_offset + q * mr * pixels + oh * OW;
            const T *b_row = buf + (oh - oh0) * sh * cg * wp;
            for (ptrdiff_t ow = 0; ow < OW; ow += nr) {
                const ptrdiff_t cols_here = OW - ow < nr ? OW - ow : nr;
                NAME(band_prefetch_some)(&next);
                if (rows_here == mr && cols_here == nr) {
                    plan->kernels->NAME(tile)(segments, run_k, ap, b_row + ow, plan->offsets, wp,
                                              bias, 0, c_row + ow, pixels);
                    continue;
                }
                T tile[FASTNN_MAX_MR * FASTNN_MAX_NR] __attribute__((aligned(64)));
                plan->kernels->NAME(tile)(segments, run_k, ap, b_row + ow, plan->offsets, wp, bias,
                                          0, tile, nr);
                for (ptrdiff_t i = 0; i < rows_here; i++)
                    memcpy(c_row + i * pixels + ow, tile + i * nr, sizeof(T) * (size_t)cols_here);
            }
            if (NAME(epilogue_needed)(&epilogue))
                epilogue.apply(&epilogue, c_row, pixels, q * mr, oh * OW, rows_here, OW);
        }
    }
    fastnn_flush_denormals_end(fp_state);
    return 0;
}

/* The plan of a forward by rows: band height (the buffer at most FASTNN_CONV_BUFFER_BYTES / 4,
 * about a third of L2, and at least as many units as threads) and the packed weights' size. */
static void NAME(rows_plan_geometry)(const fastnn_conv_geometry *g, int nr, int threads,
                                     NAME(rows_plan) *plan)
{
    plan->wp = g->out_w + (g->kernel_w - 1) * g->dilation_w;
    plan->rows_per_run = g->dilation_h == 1 ? g->kernel_h : 1;
    ptrdiff_t rows = g->out_h;
    while (rows > 1 && (ptrdiff_t)NAME(band_bytes)(g, rows, plan->wp, nr) > FASTNN_CONV_BUFFER_BYTES / 4)
        rows = (rows + 1) / 2;
    ptrdiff_t images = g->batch * g->groups;
    if (images < threads) {
        ptrdiff_t bands = (threads + images - 1) / images, split = (g->out_h + bands - 1) / bands;
        if (split < rows)
            rows = split;
    }
    plan->band_rows = rows;
    plan->bands = (g->out_h + rows - 1) / rows;
    plan->buffer_bytes = NAME(band_bytes)(g, rows, plan->wp, nr);
}

/* The weights packed by rows: their count, and their bytes with each segment's offset into the
 * band after them, from a 64-byte boundary. */
static ptrdiff_t NAME(rows_weights_count)(const fastnn_conv_geometry *g, int mr)
{
    const ptrdiff_t mg = g->out_channels / g->groups, panels = (mg + mr - 1) / mr;
    return g->groups * panels * mr * (g->in_channels / g->groups) * g->kernel_h * g->kernel_w;
}

static size_t NAME(rows_offsets_at)(const fastnn_conv_geometry *g, int mr)
{
    return (sizeof(T) * (size_t)NAME(rows_weights_count)(g, mr) + 63) & ~(size_t)63;
}

static size_t NAME(rows_weights_bytes)(const fastnn_conv_geometry *g, int mr)
{
    return NAME(rows_offsets_at)(g, mr) + sizeof(ptrdiff_t) * (size_t)(g->kernel_h * g->kernel_w);
}

/* The forward by rows' window buffers: one thread's band (slot 0), the packed weights (2). */
static void NAME(rows_forward_slots)(const fastnn_conv_geometry *g, size_t slots[WINDOW_SLOTS])
{
    const fastnn_conv_rows_kernels *kernels = fastnn_active_context()->conv_rows;
    NAME(rows_plan) plan;
    NAME(rows_plan_geometry)(g, kernels->NAME(nr), 1, &plan);
    slot_grows_to(slots, 0, plan.buffer_bytes);
    slot_grows_to(slots, 2, NAME(rows_weights_bytes)(g, kernels->NAME(mr)));
}

/* y = act(conv(x, w) + bias) by rows; returns 0, or -1 if a buffer could not be allocated. */
static int NAME(forward_by_rows)(const fastnn_conv_geometry *g, const T *x, const T *w,
                                 const T *bias, int activation, T *y, T *pre)
{
    NAME(rows_plan) plan = {.g = g, .kernels = fastnn_active_context()->conv_rows, .x = x,
                            .bias = bias, .y = y};
    const int mr = plan.kernels->NAME(mr), nr = plan.kernels->NAME(nr);
    plan.epilogue = NAME(conv_epilogue)(g, NULL, activation, pre);
    const ptrdiff_t pixels = g->out_h * g->out_w;
    const double fmas = (double)g->batch * g->out_channels * (g->in_channels / g->groups) *
                        g->kernel_h * g->kernel_w * pixels;
    int threads = conv_threads(fmas, g->batch * g->groups * g->out_h);
    NAME(rows_plan_geometry)(g, nr, threads, &plan);
    plan.threads = threads;
    T *w_packed = window_buffer(2, NAME(rows_weights_bytes)(g, mr));
    if (w_packed == NULL)
        return -1;
    NAME(pack_weights_by_rows)(g, w, mr, plan.rows_per_run, w_packed);
    ptrdiff_t *offsets = (ptrdiff_t *)((char *)w_packed + NAME(rows_offsets_at)(g, mr));
    const ptrdiff_t runs = g->kernel_h / plan.rows_per_run, cg = g->in_channels / g->groups;
    for (ptrdiff_t kj = 0; kj < g->kernel_w; kj++)
        for (ptrdiff_t run = 0; run < runs; run++)
            offsets[kj * runs + run] = run * plan.rows_per_run * g->dilation_h * cg * plan.wp +
                                       kj * g->dilation_w;
    plan.w_packed = w_packed;
    plan.offsets = offsets;
    const ptrdiff_t units = g->batch * g->groups * plan.bands;
    return fastnn_run_units(threads, units, NAME(rows_run), &plan, 0) ? -1 : 0;
}

/* The weight gradient by rows, on the same band buffer: for kernel column kj and run of kernel
 * rows, dW_kj (mg x run_k, k = ki * C + c as above) += delta_band (mg x pixels) times the band's
 * matrix for kj transposed (pixels x run_k). Delta is packed into mr panels once per band. B's
 * nr-wide panels are nr buffer rows transposed, one output row at a time, all wp columns: the
 * panel of kernel column kj is then the same one kj * dw pixels on, so one transposition serves
 * every kernel column (a transposition per column measured 7.6% of the backward), and the tile
 * kernel sums a panel of dW over output rows as segments. Units split B's panels, so every
 * thread count sums in one order; the band buffer and packed delta are shared. */
typedef struct {
    const fastnn_conv_geometry *g;
    const fastnn_conv_rows_kernels *kernels;
    const BLOCKING_TYPE *blk;     /* its transposing packer */
    const T *band, *delta_packed; /* this band's buffer, and delta's mr panels over its pixels */
    T *dw_rows;                   /* per group: [kj][run][co][k], mg x run_k blocks */
    ptrdiff_t wp, rows_per_run, oh0, oh1, grp, panel_units;
    size_t b_panel_bytes;
} NAME(rows_dw_plan);

/* A band's transposed B panel (output rows x wp pixels x nr), then the segments' offsets. */
static size_t NAME(rows_dw_panel_bytes)(ptrdiff_t rows, ptrdiff_t wp, int nr)
{
    return ((sizeof(T) * (size_t)(rows * wp * nr) + 63) & ~(size_t)63) +
           sizeof(ptrdiff_t) * (size_t)rows;
}

static int NAME(rows_dw_run)(void *context, ptrdiff_t unit)
{
    const NAME(rows_dw_plan) *plan = context;
    const fastnn_conv_geometry *g = plan->g;
    const BLOCKING_TYPE *blk = plan->blk;
    const int mr = plan->kernels->NAME(mr), nr = plan->kernels->NAME(nr);
    const ptrdiff_t mg = g->out_channels / g->groups, cg = g->in_channels / g->groups;
    const ptrdiff_t kw = g->kernel_w, runs = g->kernel_h / plan->rows_per_run;
    const ptrdiff_t run_k = plan->rows_per_run * cg, k_panels = (run_k + nr - 1) / nr;
    const ptrdiff_t OW = g->out_w, rows = plan->oh1 - plan->oh0, cols = rows * OW, wp = plan->wp;
    const ptrdiff_t panels = (mg + mr - 1) / mr, all = runs * k_panels;
    const ptrdiff_t first = all * unit / plan->panel_units, last = all * (unit + 1) / plan->panel_units;
    /* output rows per block: about KC pixels, whose transposed rows stay in L1 across the kernel
     * columns and panels of delta */
    const ptrdiff_t block_rows = blk->kc / OW > 1 ? blk->kc / OW : 1;
    T *bpanel = window_buffer(1, plan->b_panel_bytes);
    if (bpanel == NULL)
        return 1;
    ptrdiff_t *offsets = (ptrdiff_t *)((char *)bpanel + plan->b_panel_bytes) - rows;
    for (ptrdiff_t r = 0; r < rows; r++) offsets[r] = r * wp * nr;
    unsigned int fp_state = fastnn_flush_denormals_begin();
    for (ptrdiff_t i = first; i < last; i++) {
        const ptrdiff_t run = i / k_panels, k0 = i % k_panels * nr;
        const ptrdiff_t width = run_k - k0 < nr ? run_k - k0 : nr;
        for (ptrdiff_t r = 0; r < rows; r++) {
            const ptrdiff_t row = r * g->stride_h + run * plan->rows_per_run * g->dilation_h;
            const T *src = plan->band + (row * cg + k0) * wp;
            T *dst = bpanel + r * wp * nr;
            if (width == nr && blk->pack_transposed) {
                blk->pack_transposed(wp, src, wp, nr, dst);
                continue;
            }
            for (ptrdiff_t p = 0; p < wp; p++)
                for (int j = 0; j < nr; j++) dst[p * nr + j] = j < width ? src[j * wp + p] : 0;
        }
        for (ptrdiff_t b0 = 0; b0 < rows; b0 += block_rows) {
            const ptrdiff_t segments = rows - b0 < block_rows ? rows - b0 : block_rows;
            for (ptrdiff_t kj = 0; kj < kw; kj++) {
                T *c = plan->dw_rows + ((plan->grp * kw + kj) * runs + run) * mg * run_k + k0;
                const T *bp = bpanel + (b0 * wp + kj * g->dilation_w) * nr;
                for (ptrdiff_t q = 0; q < panels; q++) {
                    const ptrdiff_t rows_here = mg - q * mr < mr ? mg - q * mr : mr;
                    const T *ap = plan->delta_packed + (q * cols + b0 * OW) * mr;
                    T *cq = c + q * mr * run_k;
                    if (rows_here == mr && width == nr) {
                        plan->kernels->NAME(tile)(segments, OW, ap, bp, offsets, nr, NULL, 1, cq,
                                                  run_k);
                        continue;
                    }
                    T tile[FASTNN_MAX_MR * FASTNN_MAX_NR] __attribute__((aligned(64)));
                    plan->kernels->NAME(tile)(segments, OW, ap, bp, offsets, nr, NULL, 0, tile,
                                              nr);
                    for (ptrdiff_t a = 0; a < rows_here; a++)
                        for (ptrdiff_t j = 0; j < width; j++)
                            cq[a * run_k + j] += tile[a * nr + j];
                }
            }
        }
    }
    fastnn_flush_denormals_end(fp_state);
    return 0;
}

/* The weight gradient by rows' bands and buffers: output rows per band (the band buffer and a
 * band's B panel each within a quarter of FASTNN_CONV_BUFFER_BYTES), the band buffer (window
 * slot 0), one thread's B panel and offsets (1), delta packed over a band (2) and dW in the
 * tiles' order (3). */
typedef struct {
    ptrdiff_t band_rows;
    size_t slot[WINDOW_SLOTS];
} NAME(rows_dw_layout);

static void NAME(rows_dw_plan_layout)(const fastnn_conv_geometry *g, const BLOCKING_TYPE *blk,
                                      NAME(rows_plan) *rows, NAME(rows_dw_layout) *layout)
{
    const int mr = blk->mr, nr = blk->nr;
    const ptrdiff_t mg = g->out_channels / g->groups, OW = g->out_w;
    NAME(rows_plan_geometry)(g, nr, 1, rows);
    ptrdiff_t band_rows = rows->band_rows;
    const ptrdiff_t cap = FASTNN_CONV_BUFFER_BYTES / 4 / ((ptrdiff_t)sizeof(T) * nr * rows->wp);
    if (band_rows > cap)
        band_rows = cap > 1 ? cap : 1;
    layout->band_rows = band_rows;
    layout->slot[0] = NAME(band_bytes)(g, band_rows, rows->wp, nr);
    layout->slot[1] = NAME(rows_dw_panel_bytes)(band_rows, rows->wp, nr);
    layout->slot[2] = sizeof(T) * (size_t)((mg + mr - 1) / mr * mr * band_rows * OW);
    layout->slot[3] = sizeof(T) * (size_t)(g->out_channels * (g->in_channels / g->groups) *
                                           g->kernel_h * g->kernel_w);
}

/* dw = (or += with accumulate) the weight gradient by rows; returns 0, or -1 if a buffer could
 * not be allocated. */
static int NAME(weight_grad_by_rows)(const fastnn_conv_geometry *g, const T *x, const T *delta,
                                     T *dw, int accumulate)
{
    const BLOCKING_TYPE *blk = fastnn_active_context()->BLOCKING;
    const int nr = blk->nr;
    const ptrdiff_t groups = g->groups, mg = g->out_channels / groups, cg = g->in_channels / groups;
    const ptrdiff_t kh = g->kernel_h, kw = g->kernel_w, OW = g->out_w, pixels = g->out_h * OW;
    NAME(rows_plan) rows;
    NAME(rows_dw_layout) layout;
    NAME(rows_dw_plan_layout)(g, blk, &rows, &layout);
    const ptrdiff_t band_rows = layout.band_rows;
    const ptrdiff_t run_k = rows.rows_per_run * cg, runs = kh / rows.rows_per_run;
    T *band = window_buffer(0, layout.slot[0]);
    T *delta_packed = window_buffer(2, layout.slot[2]);
    T *dw_rows = window_buffer(3, layout.slot[3]);
    if (band == NULL || delta_packed == NULL || dw_rows == NULL)
        return -1;
    memset(dw_rows, 0, layout.slot[3]);
    const ptrdiff_t all = runs * ((run_k + nr - 1) / nr);
    const double fmas = (double)mg * run_k * kw * runs * band_rows * OW;
    const int threads = conv_threads(fmas, all);
    NAME(rows_dw_plan) plan = {.g = g, .kernels = fastnn_active_context()->conv_rows, .blk = blk,
                               .band = band, .delta_packed = delta_packed,
                               .dw_rows = dw_rows, .wp = rows.wp, .rows_per_run = rows.rows_per_run,
                               .panel_units = threads, .b_panel_bytes = layout.slot[1]};
    for (ptrdiff_t n = 0; n < g->batch; n++)
        for (ptrdiff_t grp = 0; grp < groups; grp++)
            for (ptrdiff_t oh0 = 0; oh0 < g->out_h; oh0 += band_rows) {
                const ptrdiff_t oh1 = oh0 + band_rows < g->out_h ? oh0 + band_rows : g->out_h;
                const ptrdiff_t band_in = NAME(band_input_rows)(g, oh1 - oh0);
                NAME(fill_band)(g, x + (n * g->in_channels + grp * cg) * g->in_h * g->in_w, cg,
                                oh0 * g->stride_h - g->pad_h, band_in, rows.wp, nr, band);
                const T *delta_band = delta + (n * g->out_channels + grp * mg) * pixels + oh0 * OW;
                NAME(pack_panels)(blk, delta_band, 1, mg, pixels, (oh1 - oh0) * OW, 0,
                                  delta_packed);
                plan.oh0 = oh0, plan.oh1 = oh1, plan.grp = grp;
                if (fastnn_run_units(threads, threads, NAME(rows_dw_run), &plan, 0))
                    return -1;
            }
    /* into torch's layout (C_out, C_in / groups, KH, KW) */
    for (ptrdiff_t grp = 0; grp < groups; grp++)
        for (ptrdiff_t kj = 0; kj < kw; kj++)
            for (ptrdiff_t run = 0; run < runs; run++)
                for (ptrdiff_t o = 0; o < mg; o++) {
                    const T *src = dw_rows + (((grp * kw + kj) * runs + run) * mg + o) * run_k;
                    for (ptrdiff_t p = 0; p < run_k; p++) {
                        const ptrdiff_t ki = run * rows.rows_per_run + p / cg, c = p % cg;
                        T *d = dw + (((grp * mg + o) * cg + c) * kh + ki) * kw + kj;
                        *d = accumulate ? *d + src[p] : src[p];
                    }
                }
    return 0;
}
