/* The batch-normalisation kernels of batchnorm.c, once per type: T, NAME(x). */

/* The operands of one batch-norm pass, for the span functions threads run (elementwise.h). */
typedef struct {
    ptrdiff_t batch, channels, spatial;
    const T *x, *dy, *gamma, *scale, *shift;
    double *mean, *var;
    const double *invstd;
    T *y, *dx, *dgamma, *dbeta;
    int training, accumulate;
} NAME(bn_args);

static void NAME(batch_norm_stats_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(bn_args) *a = args;
    const ptrdiff_t batch = a->batch;
    const ptrdiff_t channels = a->channels;
    const ptrdiff_t spatial = a->spatial;
    const T *x = a->x;
    double *mean = a->mean;
    double *var = a->var;
    const double count = (double)(batch * spatial);
    for (ptrdiff_t c = lo; c < hi; c++) {
        double sum = 0, squares = 0;
        for (ptrdiff_t n = 0; n < batch; n++) {
            const T *p = x + (n * channels + c) * spatial;
            for (ptrdiff_t s = 0; s < spatial; s++) sum += p[s];
        }
        double mu = sum / count;
        for (ptrdiff_t n = 0; n < batch; n++) {
            const T *p = x + (n * channels + c) * spatial;
            for (ptrdiff_t s = 0; s < spatial; s++) {
                double d = (double)p[s] - mu;
                squares += d * d;
            }
        }
        mean[c] = mu;
        var[c] = squares / count;
    }
}

void NAME(fastnn_batch_norm_stats)(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                   const T *x, double *mean, double *var)
{
    NAME(bn_args) a = {.batch = batch, .channels = channels, .spatial = spatial, .x = x,
                       .mean = mean, .var = var};
    fastnn_for_each_span(batch * channels * spatial, channels, NAME(batch_norm_stats_span), &a);
}

static void NAME(batch_norm_apply_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(bn_args) *a = args;
    const ptrdiff_t channels = a->channels;
    const ptrdiff_t spatial = a->spatial;
    const T *x = a->x;
    const T *scale = a->scale;
    const T *shift = a->shift;
    T *y = a->y;
    for (ptrdiff_t plane = lo; plane < hi; plane++) {
        const T a = scale[plane % channels], b = shift[plane % channels];
        const T *p = x + plane * spatial;
        T *q = y + plane * spatial;
        for (ptrdiff_t s = 0; s < spatial; s++) q[s] = p[s] * a + b;
    }
}

void NAME(fastnn_batch_norm_apply)(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                   const T *x, const T *scale, const T *shift, T *y)
{
    NAME(bn_args) a = {.batch = batch, .channels = channels, .spatial = spatial, .x = x,
                       .scale = scale, .shift = shift, .y = y};
    fastnn_for_each_span(batch * channels * spatial, batch * channels,
                         NAME(batch_norm_apply_span), &a);
}

static void NAME(batch_norm_backward_span)(const void *args, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(bn_args) *a = args;
    const ptrdiff_t batch = a->batch;
    const ptrdiff_t channels = a->channels;
    const ptrdiff_t spatial = a->spatial;
    const T *x = a->x;
    const T *dy = a->dy;
    double *mean = a->mean;
    const double *invstd = a->invstd;
    const T *gamma = a->gamma;
    const int training = a->training;
    T *dx = a->dx;
    T *dgamma = a->dgamma;
    T *dbeta = a->dbeta;
    const int accumulate = a->accumulate;
    const double count = (double)(batch * spatial);
    for (ptrdiff_t c = lo; c < hi; c++) {
        const double mu = mean[c], istd = invstd[c];
        double sum_dy = 0, sum_dy_centred = 0;
        for (ptrdiff_t n = 0; n < batch; n++) {
            const T *p = x + (n * channels + c) * spatial, *d = dy + (n * channels + c) * spatial;
            for (ptrdiff_t s = 0; s < spatial; s++) {
                sum_dy += d[s];
                sum_dy_centred += (double)d[s] * ((double)p[s] - mu);
            }
        }
        const double sum_dy_xhat = sum_dy_centred * istd;
        if (dbeta)
            dbeta[c] = (T)(accumulate ? sum_dy + (double)dbeta[c] : sum_dy);
        if (dgamma)
            dgamma[c] = (T)(accumulate ? sum_dy_xhat + (double)dgamma[c] : sum_dy_xhat);
        if (!dx)
            continue;
        const double k = (gamma ? (double)gamma[c] : 1.0) * istd;
        /* dx = k * dy - k * mean(dy) - k * istd^2 * mean(dy * (x - mu)) * (x - mu), with
         * x - mu formed first: x may sit far from zero relative to its spread */
        const T a = (T)k, mu_t = (T)mu;
        const T b = training ? (T)(-k * sum_dy / count) : 0;
        const T slope = training ? (T)(-k * istd * istd * sum_dy_centred / count) : 0;
        for (ptrdiff_t n = 0; n < batch; n++) {
            const T *p = x + (n * channels + c) * spatial, *d = dy + (n * channels + c) * spatial;
            T *q = dx + (n * channels + c) * spatial;
            for (ptrdiff_t s = 0; s < spatial; s++) q[s] = a * d[s] + slope * (p[s] - mu_t) + b;
        }
    }
}

void NAME(fastnn_batch_norm_backward)(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                      const T *x, const T *dy, const double *mean,
                                      const double *invstd, const T *gamma, int training, T *dx,
                                      T *dgamma, T *dbeta, int accumulate)
{
    NAME(bn_args) a = {.batch = batch, .channels = channels, .spatial = spatial, .x = x, .dy = dy,
                       .mean = (double *)mean, .invstd = invstd, .gamma = gamma,
                       .training = training, .dx = dx, .dgamma = dgamma, .dbeta = dbeta,
                       .accumulate = accumulate};
    fastnn_for_each_span(batch * channels * spatial, channels, NAME(batch_norm_backward_span), &a);
}
