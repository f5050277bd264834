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
    if (self->activation != 0 || pre)
        fastnn_active_context()->activations->ACTS.bias_activation(self->activation, rows, cols,
                                                                   NULL, out, ldc, pre,
                                                                   self->ld_pre);
}

/* One input channel's kh * kw rows of the column matrix, over output pixels [p0, p0 + cols):
 * row (ki, kj) holds the input values the kernel tap (ki, kj) meets, zero where it lies in the
 * padding. With accumulate set it runs the other way (col2im): the rows are added back into
 * the channel's plane. Walks one output row at a time, so that the taps inside the image are a
 * contiguous copy at stride 1. */
static void NAME(gather_channel)(const fastnn_conv_geometry *g, T *plane, ptrdiff_t p0,
                                 ptrdiff_t cols, T *col, int accumulate)
{
    const ptrdiff_t W = g->in_w, OW = g->out_w, sw = g->stride_w;
    for (ptrdiff_t ki = 0; ki < g->kernel_h; ki++)
        for (ptrdiff_t kj = 0; kj < g->kernel_w; kj++) {
            T *dst = col + (ki * g->kernel_w + kj) * cols;
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
                /* plane[base + o * sw] is tap (ki, kj) of output column o, for o in [lo, hi) */
                const ptrdiff_t base = ih * W + off_w;
                if (accumulate) {
                    for (ptrdiff_t o = lo; o < hi; o++) plane[base + o * sw] += dst[o - ow];
                } else {
                    for (ptrdiff_t o = ow; o < lo; o++) dst[o - ow] = 0;
                    if (sw == 1 && hi > lo)
                        memcpy(dst + (lo - ow), plane + base + lo, sizeof(T) * (size_t)(hi - lo));
                    else
                        for (ptrdiff_t o = lo; o < hi; o++) dst[o - ow] = plane[base + o * sw];
                    for (ptrdiff_t o = hi; o < ow + run; o++) dst[o - ow] = 0;
                }
                dst += run;
                j += run;
            }
        }
}

/* im2col (or col2im with accumulate) of `channels` channels starting at plane x, threaded over
 * channels: in col2im each thread adds into its own channels' planes only. */
static void NAME(gather)(const fastnn_conv_geometry *g, const T *x, ptrdiff_t channels,
                         ptrdiff_t p0, ptrdiff_t cols, T *col, int accumulate)
{
    const ptrdiff_t taps = g->kernel_h * g->kernel_w, plane = g->in_h * g->in_w;
    FASTNN_FOR_EACH_SPAN(channels * taps * cols, channels, {
        for (ptrdiff_t c = lo; c < hi; c++)
            NAME(gather_channel)(g, (T *)x + c * plane, p0, cols, col + c * taps * cols,
                                 accumulate);
    });
}

int NAME(fastnn_conv2d_forward)(const fastnn_conv_geometry *g, const T *x, const T *w,
                                const T *bias, int activation, T *y, T *pre)
{
    const ptrdiff_t cg = g->in_channels / g->groups, mg = g->out_channels / g->groups;
    const ptrdiff_t rows = cg * g->kernel_h * g->kernel_w, pixels = g->out_h * g->out_w;
    const ptrdiff_t plane = g->in_h * g->in_w;
    const int direct = reads_input_as_columns(g);
    const ptrdiff_t chunk = direct ? pixels : chunk_columns(g, sizeof(T));
    T *col = direct ? NULL : window_buffer(0, sizeof(T) * (size_t)(rows * chunk));
    if (!direct && col == NULL)
        return -1;
    fastnn_epilogue epilogue = {.apply = NAME(row_bias_activation), .activation = activation,
                                .ld_pre = pixels};
    const int fused = bias != NULL || activation != 0 || pre != NULL;
    for (ptrdiff_t n = 0; n < g->batch; n++)
        for (ptrdiff_t grp = 0; grp < g->groups; grp++) {
            const T *xg = x + (n * g->in_channels + grp * cg) * plane;
            const ptrdiff_t out_offset = (n * g->out_channels + grp * mg) * pixels;
            epilogue.bias = bias ? bias + grp * mg : NULL;
            for (ptrdiff_t p0 = 0; p0 < pixels; p0 += chunk) {
                ptrdiff_t cols = pixels - p0 < chunk ? pixels - p0 : chunk;
                const T *b = direct ? xg + p0 : col;
                if (!direct)
                    NAME(gather)(g, xg, cg, p0, cols, col, 0);
                epilogue.pre_activation = pre ? pre + out_offset + p0 : NULL;
                if (GEMM(mg, cols, rows, 1, w + grp * mg * rows, rows, 1, b, direct ? plane : cols,
                         1, 0, y + out_offset + p0, pixels, fused ? &epilogue : NULL))
                    return -1;
            }
        }
    return 0;
}

int NAME(fastnn_conv2d_backward)(const fastnn_conv_geometry *g, const T *x, const T *w,
                                 const T *delta, T *dx, T *dw, int accumulate_dw)
{
    const ptrdiff_t cg = g->in_channels / g->groups, mg = g->out_channels / g->groups;
    const ptrdiff_t rows = cg * g->kernel_h * g->kernel_w, pixels = g->out_h * g->out_w;
    const ptrdiff_t plane = g->in_h * g->in_w;
    const int direct = reads_input_as_columns(g);
    const ptrdiff_t chunk = direct ? pixels : chunk_columns(g, sizeof(T));
    T *col = NULL, *dcol = NULL;
    if (!direct) {
        col = window_buffer(0, sizeof(T) * (size_t)(rows * chunk));
        dcol = dx ? window_buffer(1, sizeof(T) * (size_t)(rows * chunk)) : NULL;
        if (col == NULL || (dx && dcol == NULL))
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
                if (!direct)
                    NAME(gather)(g, xg, cg, p0, cols, col, 0);
                /* dw_g += delta_g[:, chunk] (mg x cols) times the windows transposed (cols x rows) */
                T beta = accumulate_dw || n > 0 || p0 > 0 ? 1 : 0;
                if (GEMM(mg, rows, cols, 1, dg + p0, pixels, 1, b, 1, ldb, beta, dw + grp * mg * rows,
                         rows, NULL))
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

void NAME(fastnn_channel_sums)(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                               const T *x, T *sums, int accumulate)
{
    FASTNN_FOR_EACH_SPAN(batch * channels * spatial, channels, {
        for (ptrdiff_t c = lo; c < hi; c++) {
            double s[4] = {0, 0, 0, 0}; /* four chains: the adds pipeline */
            for (ptrdiff_t n = 0; n < batch; n++) {
                const T *p = x + (n * channels + c) * spatial;
                ptrdiff_t i = 0;
                for (; i + 4 <= spatial; i += 4)
                    for (int u = 0; u < 4; u++) s[u] += p[i + u];
                for (; i < spatial; i++) s[0] += p[i];
            }
            double total = (s[0] + s[1]) + (s[2] + s[3]);
            sums[c] = (T)(accumulate ? total + (double)sums[c] : total);
        }
    });
}
