/* The pooling kernels of pooling.c, once per type: T, NAME(x). Every kernel runs its planes on
 * threads (fastnn_for_each_span); within a plane, windows are clipped to the image once per
 * row and column of the output, so the inner loops carry no bounds tests. */

/* The operands of one pooling pass, for the span functions threads run (elementwise.h). */
typedef struct {
    const fastnn_pool_geometry *g;
    const T *x, *dy;
    T *y, *dx;
    int64_t *argmax;
    const int64_t *argmax_in;
    int count_include_pad;
    ptrdiff_t divisor_override;
} NAME(pool_args);

static void NAME(max_pool2d_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(pool_args) *a = args;
    const fastnn_pool_geometry *g = a->g;
    const T *x = a->x;
    T *y = a->y;
    int64_t *argmax = a->argmax;
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    for (ptrdiff_t p = lo; p < hi; p++) {
        const T *xp = x + p * H * W;
        T *yp = y + p * OH * OW;
        int64_t *ap = argmax ? argmax + p * OH * OW : NULL;
        for (ptrdiff_t oh = 0; oh < OH; oh++) {
            window rows = clip(oh, g->stride_h, g->pad_h, g->dilation_h, g->kernel_h, H);
            for (ptrdiff_t ow = 0; ow < OW; ow++) {
                window cols = clip(ow, g->stride_w, g->pad_w, g->dilation_w, g->kernel_w, W);
                T best = -(T)INFINITY;
                int64_t where = -1;
                for (ptrdiff_t i = rows.first; i < rows.end; i += g->dilation_h)
                    for (ptrdiff_t j = cols.first; j < cols.end; j += g->dilation_w) {
                        T v = xp[i * W + j];
                        if (v > best || v != v || where < 0) {
                            best = v;
                            where = i * W + j;
                            if (v != v)
                                goto found; /* NaN: the maximum, as in torch */
                        }
                    }
            found:
                yp[oh * OW + ow] = best;
                if (ap)
                    ap[oh * OW + ow] = where;
            }
        }
    }
}

/* The 2 x 2 windows at stride 2 wholly inside the image (LeNet's and most CNNs' pooling), in a
 * form that vectorises (the scan above branches on every comparison, a coin toss on real data:
 * 10 ns an output): the maximum by selects, which of the four is the first equal to it, and that
 * one's value (so that of -0 and +0 the first is kept, as above). A window holding a NaN is
 * redone by the scan, whose rule (the first NaN wins) the selects do not follow. */
#define FASTNN_POOL_2X2_CHUNK 64

static void NAME(max_pool2d_2x2_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(pool_args) *a = args;
    const fastnn_pool_geometry *g = a->g;
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    T best[FASTNN_POOL_2X2_CHUNK];
    int32_t which[FASTNN_POOL_2X2_CHUNK];
    for (ptrdiff_t p = lo; p < hi; p++)
        for (ptrdiff_t oh = 0; oh < OH; oh++) {
            const T *r0 = a->x + p * H * W + 2 * oh * W, *r1 = r0 + W;
            T *yr = a->y + (p * OH + oh) * OW;
            int64_t *ar = a->argmax ? a->argmax + (p * OH + oh) * OW : NULL;
            for (ptrdiff_t o0 = 0; o0 < OW; o0 += FASTNN_POOL_2X2_CHUNK) {
                const ptrdiff_t len = OW - o0 < FASTNN_POOL_2X2_CHUNK ? OW - o0 : FASTNN_POOL_2X2_CHUNK;
                int nan = 0;
                for (ptrdiff_t i = 0; i < len; i++) {
                    const ptrdiff_t ow = o0 + i;
                    const T v0 = r0[2 * ow], v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
                    const T m01 = v1 > v0 ? v1 : v0, m23 = v3 > v2 ? v3 : v2;
                    const T m = m23 > m01 ? m23 : m01;
                    const int32_t k = v0 == m ? 0 : v1 == m ? 1 : v2 == m ? 2 : 3;
                    best[i] = k == 0 ? v0 : k == 1 ? v1 : k == 2 ? v2 : v3;
                    which[i] = k;
                    nan |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3);
                }
                for (ptrdiff_t i = 0; i < len; i++) yr[o0 + i] = best[i];
                if (ar)
                    for (ptrdiff_t i = 0; i < len; i++)
                        ar[o0 + i] = (2 * oh + (which[i] >> 1)) * W + 2 * (o0 + i) + (which[i] & 1);
                for (ptrdiff_t i = 0; nan && i < len; i++) {
                    const ptrdiff_t ow = o0 + i;
                    T m = r0[2 * ow];
                    int32_t k = 0;
                    for (int32_t t = 0; t < 4 && m == m; t++) { /* the scan: the first NaN wins */
                        const T v = (t < 2 ? r0 : r1)[2 * ow + (t & 1)];
                        if (v > m || v != v) {
                            m = v;
                            k = t;
                        }
                    }
                    yr[ow] = m;
                    if (ar)
                        ar[ow] = (2 * oh + (k >> 1)) * W + 2 * ow + (k & 1);
                }
            }
        }
}

void NAME(fastnn_max_pool2d)(const fastnn_pool_geometry *g, const T *x, T *y, int64_t *argmax)
{
    NAME(pool_args) a = {.g = g, .x = x, .y = y, .argmax = argmax};
    const int two_by_two = g->kernel_h == 2 && g->kernel_w == 2 && g->stride_h == 2 &&
                           g->stride_w == 2 && g->pad_h == 0 && g->pad_w == 0 &&
                           g->dilation_h == 1 && g->dilation_w == 1 && 2 * g->out_h <= g->in_h &&
                           2 * g->out_w <= g->in_w;
    fastnn_for_each_span(g->planes * g->in_h * g->in_w, g->planes,
                         two_by_two ? NAME(max_pool2d_2x2_span) : NAME(max_pool2d_span), &a);
}

static void NAME(max_pool2d_backward_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(pool_args) *a = args;
    const fastnn_pool_geometry *g = a->g;
    const T *dy = a->dy;
    T *dx = a->dx;
    const int64_t *argmax = a->argmax_in;
    const ptrdiff_t in = g->in_h * g->in_w, out = g->out_h * g->out_w;
    for (ptrdiff_t p = lo; p < hi; p++) {
        T *dxp = dx + p * in;
        memset(dxp, 0, sizeof(T) * (size_t)in);
        for (ptrdiff_t o = 0; o < out; o++)
            if (argmax[p * out + o] >= 0)
                dxp[argmax[p * out + o]] += dy[p * out + o];
    }
}

void NAME(fastnn_max_pool2d_backward)(const fastnn_pool_geometry *g, const T *dy,
                                      const int64_t *argmax, T *dx)
{
    NAME(pool_args) a = {.g = g, .dy = dy, .dx = dx, .argmax_in = argmax};
    fastnn_for_each_span(g->planes * g->in_h * g->in_w, g->planes,
                         NAME(max_pool2d_backward_span), &a);
}

/* The divisor of an average-pooling window, by torch's rule: the window's extent clipped to the
 * padded image, or to the image itself without count_include_pad. */
static inline ptrdiff_t NAME(avg_divisor)(const fastnn_pool_geometry *g, ptrdiff_t oh,
                                          ptrdiff_t ow, window rows, window cols,
                                          int count_include_pad, ptrdiff_t divisor_override)
{
    if (divisor_override > 0)
        return divisor_override;
    if (!count_include_pad)
        return (rows.end - rows.first) * (cols.end - cols.first);
    ptrdiff_t h0 = oh * g->stride_h - g->pad_h, w0 = ow * g->stride_w - g->pad_w;
    ptrdiff_t h1 = h0 + g->kernel_h, w1 = w0 + g->kernel_w;
    if (h1 > g->in_h + g->pad_h)
        h1 = g->in_h + g->pad_h;
    if (w1 > g->in_w + g->pad_w)
        w1 = g->in_w + g->pad_w;
    return (h1 - h0) * (w1 - w0);
}

static void NAME(avg_pool2d_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(pool_args) *a = args;
    const fastnn_pool_geometry *g = a->g;
    const T *x = a->x;
    T *y = a->y;
    const int count_include_pad = a->count_include_pad;
    const ptrdiff_t divisor_override = a->divisor_override;
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    for (ptrdiff_t p = lo; p < hi; p++) {
        const T *xp = x + p * H * W;
        for (ptrdiff_t oh = 0; oh < OH; oh++) {
            window rows = clip(oh, g->stride_h, g->pad_h, 1, g->kernel_h, H);
            for (ptrdiff_t ow = 0; ow < OW; ow++) {
                window cols = clip(ow, g->stride_w, g->pad_w, 1, g->kernel_w, W);
                double sum = 0;
                for (ptrdiff_t i = rows.first; i < rows.end; i++)
                    for (ptrdiff_t j = cols.first; j < cols.end; j++) sum += xp[i * W + j];
                ptrdiff_t d = NAME(avg_divisor)(g, oh, ow, rows, cols, count_include_pad,
                                                divisor_override);
                y[(p * OH + oh) * OW + ow] = (T)(sum / (double)d);
            }
        }
    }
}

void NAME(fastnn_avg_pool2d)(const fastnn_pool_geometry *g, const T *x, T *y,
                             int count_include_pad, ptrdiff_t divisor_override)
{
    NAME(pool_args) a = {.g = g, .x = x, .y = y, .count_include_pad = count_include_pad, .divisor_override = divisor_override};
    fastnn_for_each_span(g->planes * g->in_h * g->in_w, g->planes, NAME(avg_pool2d_span), &a);
}

static void NAME(avg_pool2d_backward_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(pool_args) *a = args;
    const fastnn_pool_geometry *g = a->g;
    const T *dy = a->dy;
    T *dx = a->dx;
    const int count_include_pad = a->count_include_pad;
    const ptrdiff_t divisor_override = a->divisor_override;
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    for (ptrdiff_t p = lo; p < hi; p++) {
        T *dxp = dx + p * H * W;
        memset(dxp, 0, sizeof(T) * (size_t)(H * W));
        for (ptrdiff_t oh = 0; oh < OH; oh++) {
            window rows = clip(oh, g->stride_h, g->pad_h, 1, g->kernel_h, H);
            for (ptrdiff_t ow = 0; ow < OW; ow++) {
                window cols = clip(ow, g->stride_w, g->pad_w, 1, g->kernel_w, W);
                ptrdiff_t d = NAME(avg_divisor)(g, oh, ow, rows, cols, count_include_pad,
                                                divisor_override);
                T share = dy[(p * OH + oh) * OW + ow] / (T)d;
                for (ptrdiff_t i = rows.first; i < rows.end; i++)
                    for (ptrdiff_t j = cols.first; j < cols.end; j++) dxp[i * W + j] += share;
            }
        }
    }
}

void NAME(fastnn_avg_pool2d_backward)(const fastnn_pool_geometry *g, const T *dy, T *dx,
                                      int count_include_pad, ptrdiff_t divisor_override)
{
    NAME(pool_args) a = {.g = g, .dy = dy, .dx = dx, .count_include_pad = count_include_pad, .divisor_override = divisor_override};
    fastnn_for_each_span(g->planes * g->in_h * g->in_w, g->planes,
                         NAME(avg_pool2d_backward_span), &a);
}

static void NAME(adaptive_avg_pool2d_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(pool_args) *a = args;
    const fastnn_pool_geometry *g = a->g;
    const T *x = a->x;
    T *y = a->y;
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    for (ptrdiff_t p = lo; p < hi; p++) {
        const T *xp = x + p * H * W;
        for (ptrdiff_t oh = 0; oh < OH; oh++) {
            window rows = adaptive_bin(oh, H, OH);
            for (ptrdiff_t ow = 0; ow < OW; ow++) {
                window cols = adaptive_bin(ow, W, OW);
                double sum = 0;
                for (ptrdiff_t i = rows.first; i < rows.end; i++)
                    for (ptrdiff_t j = cols.first; j < cols.end; j++) sum += xp[i * W + j];
                y[(p * OH + oh) * OW + ow] =
                    (T)(sum / (double)((rows.end - rows.first) * (cols.end - cols.first)));
            }
        }
    }
}

void NAME(fastnn_adaptive_avg_pool2d)(const fastnn_pool_geometry *g, const T *x, T *y)
{
    NAME(pool_args) a = {.g = g, .x = x, .y = y};
    fastnn_for_each_span(g->planes * g->in_h * g->in_w, g->planes,
                         NAME(adaptive_avg_pool2d_span), &a);
}

static void NAME(adaptive_avg_pool2d_backward_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(pool_args) *a = args;
    const fastnn_pool_geometry *g = a->g;
    const T *dy = a->dy;
    T *dx = a->dx;
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    for (ptrdiff_t p = lo; p < hi; p++) {
        T *dxp = dx + p * H * W;
        memset(dxp, 0, sizeof(T) * (size_t)(H * W));
        for (ptrdiff_t oh = 0; oh < OH; oh++) {
            window rows = adaptive_bin(oh, H, OH);
            for (ptrdiff_t ow = 0; ow < OW; ow++) {
                window cols = adaptive_bin(ow, W, OW);
                T share = dy[(p * OH + oh) * OW + ow] /
                          (T)((rows.end - rows.first) * (cols.end - cols.first));
                for (ptrdiff_t i = rows.first; i < rows.end; i++)
                    for (ptrdiff_t j = cols.first; j < cols.end; j++) dxp[i * W + j] += share;
            }
        }
    }
}

void NAME(fastnn_adaptive_avg_pool2d_backward)(const fastnn_pool_geometry *g, const T *dy, T *dx)
{
    NAME(pool_args) a = {.g = g, .dy = dy, .dx = dx};
    fastnn_for_each_span(g->planes * g->in_h * g->in_w, g->planes,
                         NAME(adaptive_avg_pool2d_backward_span), &a);
}
