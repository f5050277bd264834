/* The batch-normalisation kernels of batchnorm.c, once per type: T, NAME(x). */

void NAME(fastnn_batch_norm_stats)(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                   const T *x, double *mean, double *var)
{
    const double count = (double)(batch * spatial);
    FASTNN_FOR_EACH_SPAN(batch * channels * spatial, channels, {
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
    });
}

void NAME(fastnn_batch_norm_apply)(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                   const T *x, const T *scale, const T *shift, T *y)
{
    FASTNN_FOR_EACH_SPAN(batch * channels * spatial, batch * channels, {
        for (ptrdiff_t plane = lo; plane < hi; plane++) {
            const T a = scale[plane % channels], b = shift[plane % channels];
            const T *p = x + plane * spatial;
            T *q = y + plane * spatial;
            for (ptrdiff_t s = 0; s < spatial; s++) q[s] = p[s] * a + b;
        }
    });
}

void NAME(fastnn_batch_norm_backward)(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                      const T *x, const T *dy, const double *mean,
                                      const double *invstd, const T *gamma, int training, T *dx,
                                      T *dgamma, T *dbeta, int accumulate)
{
    const double count = (double)(batch * spatial);
    FASTNN_FOR_EACH_SPAN(batch * channels * spatial, channels, {
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
    });
}
