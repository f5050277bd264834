# The convolution, pooling and batch-normalisation shell (csrc/conv.h, pooling.h, batchnorm.h).
# Internal: fastnn.functional_conv validates shapes and allocates; here we check what would make
# C read or write out of bounds (sizes against the geometry, dtypes, contiguity), then call C
# once without the GIL.
from libc.stdint cimport int64_t

cdef extern from "conv.h" nogil:
    ctypedef struct fastnn_conv_geometry:
        ptrdiff_t batch, in_channels, out_channels, groups
        ptrdiff_t in_h, in_w, out_h, out_w
        ptrdiff_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w
    int fastnn_conv2d_forward_f32(const fastnn_conv_geometry *g, const float *x, const float *w,
                                  const float *bias, int activation, float *y, float *pre)
    int fastnn_conv2d_forward_f64(const fastnn_conv_geometry *g, const double *x, const double *w,
                                  const double *bias, int activation, double *y, double *pre)
    int fastnn_conv2d_backward_f32(const fastnn_conv_geometry *g, const float *x, const float *w,
                                   const float *delta, float *dx, float *dw, int accumulate_dw)
    int fastnn_conv2d_backward_f64(const fastnn_conv_geometry *g, const double *x, const double *w,
                                   const double *delta, double *dx, double *dw, int accumulate_dw)
    void fastnn_channel_sums_f32(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                 const float *x, float *sums, int accumulate)
    void fastnn_channel_sums_f64(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                 const double *x, double *sums, int accumulate)
    ptrdiff_t fastnn_conv_buffer_bytes(const fastnn_conv_geometry *g, ptrdiff_t itemsize, int backward)
    ptrdiff_t fastnn_conv_held_bytes()
    void fastnn_conv_release_buffers()

cdef extern from "pooling.h" nogil:
    ctypedef struct fastnn_pool_geometry:
        ptrdiff_t planes, in_h, in_w, out_h, out_w
        ptrdiff_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w
    void fastnn_max_pool2d_f32(const fastnn_pool_geometry *g, const float *x, float *y, int64_t *argmax)
    void fastnn_max_pool2d_f64(const fastnn_pool_geometry *g, const double *x, double *y, int64_t *argmax)
    void fastnn_max_pool2d_backward_f32(const fastnn_pool_geometry *g, const float *dy,
                                        const int64_t *argmax, float *dx)
    void fastnn_max_pool2d_backward_f64(const fastnn_pool_geometry *g, const double *dy,
                                        const int64_t *argmax, double *dx)
    void fastnn_avg_pool2d_f32(const fastnn_pool_geometry *g, const float *x, float *y,
                               int count_include_pad, ptrdiff_t divisor_override)
    void fastnn_avg_pool2d_f64(const fastnn_pool_geometry *g, const double *x, double *y,
                               int count_include_pad, ptrdiff_t divisor_override)
    void fastnn_avg_pool2d_backward_f32(const fastnn_pool_geometry *g, const float *dy, float *dx,
                                        int count_include_pad, ptrdiff_t divisor_override)
    void fastnn_avg_pool2d_backward_f64(const fastnn_pool_geometry *g, const double *dy, double *dx,
                                        int count_include_pad, ptrdiff_t divisor_override)
    void fastnn_adaptive_avg_pool2d_f32(const fastnn_pool_geometry *g, const float *x, float *y)
    void fastnn_adaptive_avg_pool2d_f64(const fastnn_pool_geometry *g, const double *x, double *y)
    void fastnn_adaptive_avg_pool2d_backward_f32(const fastnn_pool_geometry *g, const float *dy, float *dx)
    void fastnn_adaptive_avg_pool2d_backward_f64(const fastnn_pool_geometry *g, const double *dy, double *dx)

cdef extern from "batchnorm.h" nogil:
    void fastnn_batch_norm_stats_f32(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                     const float *x, double *mean, double *var)
    void fastnn_batch_norm_stats_f64(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                     const double *x, double *mean, double *var)
    void fastnn_batch_norm_apply_f32(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                     const float *x, const float *scale, const float *shift, float *y)
    void fastnn_batch_norm_apply_f64(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                     const double *x, const double *scale, const double *shift, double *y)
    void fastnn_batch_norm_backward_f32(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                        const float *x, const float *dy, const double *mean,
                                        const double *invstd, const float *gamma, int training,
                                        float *dx, float *dgamma, float *dbeta, int accumulate)
    void fastnn_batch_norm_backward_f64(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,
                                        const double *x, const double *dy, const double *mean,
                                        const double *invstd, const double *gamma, int training,
                                        double *dx, double *dgamma, double *dbeta, int accumulate)


cdef int _conv_geometry(tuple shape, fastnn_conv_geometry *g) except -1:
    """Fill g from (batch, in_channels, out_channels, groups, in_h, in_w, out_h, out_w, kernel_h,
    kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w), checked for consistency."""
    (g.batch, g.in_channels, g.out_channels, g.groups, g.in_h, g.in_w, g.out_h, g.out_w,
     g.kernel_h, g.kernel_w, g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dilation_h,
     g.dilation_w) = shape
    if (g.batch < 0 or g.in_channels < 1 or g.out_channels < 1 or g.groups < 1
            or g.in_channels % g.groups or g.out_channels % g.groups or g.in_h < 1 or g.in_w < 1
            or g.out_h < 1 or g.out_w < 1 or g.kernel_h < 1 or g.kernel_w < 1 or g.stride_h < 1
            or g.stride_w < 1 or g.pad_h < 0 or g.pad_w < 0 or g.dilation_h < 1 or g.dilation_w < 1):
        raise ValueError(f"conv geometry out of range: {shape}")
    # every window must start inside the padded image, so no tap index runs away
    if (g.out_h - 1) * g.stride_h - g.pad_h >= g.in_h + g.pad_h or \
            (g.out_w - 1) * g.stride_w - g.pad_w >= g.in_w + g.pad_w:
        raise ValueError(f"conv geometry: output larger than the padded input: {shape}")
    return 0


cdef void *_sized(cnp.ndarray x, ptrdiff_t size, int typenum, str name) except NULL:
    return _data(x, size, typenum, name)


def conv2d_forward(tuple shape, cnp.ndarray x, cnp.ndarray w, cnp.ndarray bias, int activation,
                   cnp.ndarray y, cnp.ndarray pre):
    """y = act(conv(x, w) + bias), pre (or None) receiving the values before the activation."""
    cdef fastnn_conv_geometry g
    _conv_geometry(shape, &g)
    cdef bint is_double = _is_double(x)
    cdef int t = cnp.PyArray_TYPE(x)
    cdef ptrdiff_t out_size = g.batch * g.out_channels * g.out_h * g.out_w
    cdef void *px = _sized(x, g.batch * g.in_channels * g.in_h * g.in_w, t, "x")
    cdef void *pw = _sized(w, g.out_channels * (g.in_channels // g.groups) * g.kernel_h * g.kernel_w, t, "weight")
    cdef void *pb = _optional_data(bias, g.out_channels, t, "bias")
    cdef void *py = _sized(y, out_size, t, "y")
    cdef void *pp = _optional_data(pre, out_size, t, "pre_activation")
    if not 0 <= activation < len(ACTIVATIONS):
        raise ValueError(f"conv2d: unknown activation code {activation}")
    cdef int status
    with nogil:
        if is_double:
            status = fastnn_conv2d_forward_f64(&g, <const double *>px, <const double *>pw,
                                               <const double *>pb, activation, <double *>py, <double *>pp)
        else:
            status = fastnn_conv2d_forward_f32(&g, <const float *>px, <const float *>pw,
                                               <const float *>pb, activation, <float *>py, <float *>pp)
    if status:
        raise MemoryError("conv2d: could not allocate the window buffer")
    return y


def conv2d_backward(tuple shape, cnp.ndarray x, cnp.ndarray w, cnp.ndarray delta, cnp.ndarray dx,
                    cnp.ndarray dw, bint accumulate_dw):
    """dw (+)= the weight gradient and dx (or None) = the input gradient, from delta = dL/d(pre)."""
    cdef fastnn_conv_geometry g
    _conv_geometry(shape, &g)
    cdef bint is_double = _is_double(x)
    cdef int t = cnp.PyArray_TYPE(x)
    cdef ptrdiff_t in_size = g.batch * g.in_channels * g.in_h * g.in_w
    cdef void *px = _sized(x, in_size, t, "x")
    cdef ptrdiff_t w_size = g.out_channels * (g.in_channels // g.groups) * g.kernel_h * g.kernel_w
    cdef void *pw = _sized(w, w_size, t, "weight")
    cdef void *pd = _sized(delta, g.batch * g.out_channels * g.out_h * g.out_w, t, "grad_output")
    cdef void *pdx = _optional_data(dx, in_size, t, "grad_input")
    cdef void *pdw = _sized(dw, w_size, t, "grad_weight")
    cdef int status
    with nogil:
        if is_double:
            status = fastnn_conv2d_backward_f64(&g, <const double *>px, <const double *>pw,
                                                <const double *>pd, <double *>pdx, <double *>pdw, accumulate_dw)
        else:
            status = fastnn_conv2d_backward_f32(&g, <const float *>px, <const float *>pw,
                                                <const float *>pd, <float *>pdx, <float *>pdw, accumulate_dw)
    if status:
        raise MemoryError("conv2d_backward: could not allocate the window buffers")


def conv_buffer_bytes(tuple shape, int itemsize, bint backward):
    """The extra bytes a forward (or backward) with this geometry uses."""
    cdef fastnn_conv_geometry g
    _conv_geometry(shape, &g)
    if itemsize != 4 and itemsize != 8:
        raise ValueError("conv_buffer_bytes: itemsize must be 4 or 8")
    return fastnn_conv_buffer_bytes(&g, itemsize, backward)


def conv_held_bytes():
    """The bytes the calling thread's convolution buffers hold (for the tests of
    conv_buffer_bytes)."""
    return fastnn_conv_held_bytes()


def conv_release_buffers():
    """Frees the calling thread's convolution buffers (for the tests of conv_buffer_bytes)."""
    fastnn_conv_release_buffers()


def channel_sums(cnp.ndarray x, cnp.ndarray sums, bint accumulate):
    """sums (C) = (or +=) the sums of x (N, C, ...) over every axis but the channels."""
    cdef bint is_double = _is_double(x)
    cdef int t = cnp.PyArray_TYPE(x)
    if x.ndim < 2:
        raise ValueError("channel_sums: x must be (N, C, ...)")
    cdef ptrdiff_t n = x.shape[0], c = x.shape[1]
    cdef ptrdiff_t s = cnp.PyArray_SIZE(x) // (n * c) if n * c else 0
    cdef void *px = _sized(x, n * c * s, t, "x")
    cdef void *ps = _sized(sums, c, t, "sums")
    with nogil:
        if is_double:
            fastnn_channel_sums_f64(n, c, s, <const double *>px, <double *>ps, accumulate)
        else:
            fastnn_channel_sums_f32(n, c, s, <const float *>px, <float *>ps, accumulate)
    return sums


cdef int _pool_geometry(tuple shape, fastnn_pool_geometry *g) except -1:
    """Fill g from (planes, in_h, in_w, out_h, out_w, kernel_h, kernel_w, stride_h, stride_w,
    pad_h, pad_w, dilation_h, dilation_w), checked so that every window meets the image."""
    (g.planes, g.in_h, g.in_w, g.out_h, g.out_w, g.kernel_h, g.kernel_w, g.stride_h, g.stride_w,
     g.pad_h, g.pad_w, g.dilation_h, g.dilation_w) = shape
    if (g.planes < 0 or g.in_h < 1 or g.in_w < 1 or g.out_h < 1 or g.out_w < 1 or g.kernel_h < 1
            or g.kernel_w < 1 or g.stride_h < 1 or g.stride_w < 1 or g.pad_h < 0 or g.pad_w < 0
            or g.dilation_h < 1 or g.dilation_w < 1):
        raise ValueError(f"pool geometry out of range: {shape}")
    if (g.out_h - 1) * g.stride_h - g.pad_h >= g.in_h or (g.out_w - 1) * g.stride_w - g.pad_w >= g.in_w:
        raise ValueError(f"pool geometry: a window starts past the input: {shape}")
    return 0


def max_pool2d(tuple shape, cnp.ndarray x, cnp.ndarray y, cnp.ndarray argmax):
    cdef fastnn_pool_geometry g
    _pool_geometry(shape, &g)
    cdef bint is_double = _is_double(x)
    cdef int t = cnp.PyArray_TYPE(x)
    cdef ptrdiff_t out_size = g.planes * g.out_h * g.out_w
    cdef void *px = _sized(x, g.planes * g.in_h * g.in_w, t, "x")
    cdef void *py = _sized(y, out_size, t, "y")
    cdef void *pa = _optional_data(argmax, out_size, cnp.NPY_INT64, "indices")
    with nogil:
        if is_double:
            fastnn_max_pool2d_f64(&g, <const double *>px, <double *>py, <int64_t *>pa)
        else:
            fastnn_max_pool2d_f32(&g, <const float *>px, <float *>py, <int64_t *>pa)
    return y


def max_pool2d_backward(tuple shape, cnp.ndarray dy, cnp.ndarray argmax, cnp.ndarray dx):
    cdef fastnn_pool_geometry g
    _pool_geometry(shape, &g)
    cdef bint is_double = _is_double(dy)
    cdef int t = cnp.PyArray_TYPE(dy)
    cdef ptrdiff_t out_size = g.planes * g.out_h * g.out_w, plane = g.in_h * g.in_w
    cdef void *pdy = _sized(dy, out_size, t, "grad_output")
    cdef void *pa = _sized(argmax, out_size, cnp.NPY_INT64, "indices")
    cdef void *pdx = _sized(dx, g.planes * plane, t, "grad_input")
    if out_size and (argmax.min() < -1 or argmax.max() >= plane):
        raise ValueError("max_pool2d_backward: indices out of the plane")
    with nogil:
        if is_double:
            fastnn_max_pool2d_backward_f64(&g, <const double *>pdy, <const int64_t *>pa, <double *>pdx)
        else:
            fastnn_max_pool2d_backward_f32(&g, <const float *>pdy, <const int64_t *>pa, <float *>pdx)
    return dx


def avg_pool2d(tuple shape, cnp.ndarray x, cnp.ndarray y, bint count_include_pad,
               ptrdiff_t divisor_override, bint adaptive):
    cdef fastnn_pool_geometry g
    _pool_geometry(shape, &g)
    cdef bint is_double = _is_double(x)
    cdef int t = cnp.PyArray_TYPE(x)
    cdef void *px = _sized(x, g.planes * g.in_h * g.in_w, t, "x")
    cdef void *py = _sized(y, g.planes * g.out_h * g.out_w, t, "y")
    with nogil:
        if adaptive and is_double:
            fastnn_adaptive_avg_pool2d_f64(&g, <const double *>px, <double *>py)
        elif adaptive:
            fastnn_adaptive_avg_pool2d_f32(&g, <const float *>px, <float *>py)
        elif is_double:
            fastnn_avg_pool2d_f64(&g, <const double *>px, <double *>py, count_include_pad, divisor_override)
        else:
            fastnn_avg_pool2d_f32(&g, <const float *>px, <float *>py, count_include_pad, divisor_override)
    return y


def avg_pool2d_backward(tuple shape, cnp.ndarray dy, cnp.ndarray dx, bint count_include_pad,
                        ptrdiff_t divisor_override, bint adaptive):
    cdef fastnn_pool_geometry g
    _pool_geometry(shape, &g)
    cdef bint is_double = _is_double(dy)
    cdef int t = cnp.PyArray_TYPE(dy)
    cdef void *pdy = _sized(dy, g.planes * g.out_h * g.out_w, t, "grad_output")
    cdef void *pdx = _sized(dx, g.planes * g.in_h * g.in_w, t, "grad_input")
    with nogil:
        if adaptive and is_double:
            fastnn_adaptive_avg_pool2d_backward_f64(&g, <const double *>pdy, <double *>pdx)
        elif adaptive:
            fastnn_adaptive_avg_pool2d_backward_f32(&g, <const float *>pdy, <float *>pdx)
        elif is_double:
            fastnn_avg_pool2d_backward_f64(&g, <const double *>pdy, <double *>pdx, count_include_pad,
                                           divisor_override)
        else:
            fastnn_avg_pool2d_backward_f32(&g, <const float *>pdy, <float *>pdx, count_include_pad,
                                           divisor_override)
    return dx


cdef tuple _ncs(cnp.ndarray x):
    if x.ndim < 2:
        raise ValueError("batch_norm: x must be (N, C, ...)")
    cdef ptrdiff_t n = x.shape[0], c = x.shape[1]
    return n, c, (cnp.PyArray_SIZE(x) // (n * c) if n * c else 0)


def batch_norm_stats(cnp.ndarray x, cnp.ndarray mean, cnp.ndarray var):
    """mean, var (float64, C): each channel's mean and biased variance."""
    cdef ptrdiff_t n, c, s
    n, c, s = _ncs(x)
    cdef bint is_double = _is_double(x)
    cdef void *px = _sized(x, n * c * s, cnp.PyArray_TYPE(x), "x")
    cdef void *pm = _sized(mean, c, cnp.NPY_DOUBLE, "mean")
    cdef void *pv = _sized(var, c, cnp.NPY_DOUBLE, "var")
    with nogil:
        if is_double:
            fastnn_batch_norm_stats_f64(n, c, s, <const double *>px, <double *>pm, <double *>pv)
        else:
            fastnn_batch_norm_stats_f32(n, c, s, <const float *>px, <double *>pm, <double *>pv)


def batch_norm_apply(cnp.ndarray x, cnp.ndarray scale, cnp.ndarray shift, cnp.ndarray y):
    """y = x * scale[c] + shift[c]."""
    cdef ptrdiff_t n, c, s
    n, c, s = _ncs(x)
    cdef bint is_double = _is_double(x)
    cdef int t = cnp.PyArray_TYPE(x)
    cdef void *px = _sized(x, n * c * s, t, "x")
    cdef void *pa = _sized(scale, c, t, "scale")
    cdef void *pb = _sized(shift, c, t, "shift")
    cdef void *py = _sized(y, n * c * s, t, "y")
    with nogil:
        if is_double:
            fastnn_batch_norm_apply_f64(n, c, s, <const double *>px, <const double *>pa,
                                        <const double *>pb, <double *>py)
        else:
            fastnn_batch_norm_apply_f32(n, c, s, <const float *>px, <const float *>pa,
                                        <const float *>pb, <float *>py)
    return y


def batch_norm_backward(cnp.ndarray x, cnp.ndarray dy, cnp.ndarray mean, cnp.ndarray invstd,
                        cnp.ndarray gamma, bint training, cnp.ndarray dx, cnp.ndarray dgamma,
                        cnp.ndarray dbeta, bint accumulate):
    cdef ptrdiff_t n, c, s
    n, c, s = _ncs(x)
    cdef bint is_double = _is_double(x)
    cdef int t = cnp.PyArray_TYPE(x)
    cdef void *px = _sized(x, n * c * s, t, "x")
    cdef void *pdy = _sized(dy, n * c * s, t, "grad_output")
    cdef void *pm = _sized(mean, c, cnp.NPY_DOUBLE, "mean")
    cdef void *pi = _sized(invstd, c, cnp.NPY_DOUBLE, "invstd")
    cdef void *pg = _optional_data(gamma, c, t, "weight")
    cdef void *pdx = _optional_data(dx, n * c * s, t, "grad_input")
    cdef void *pdg = _optional_data(dgamma, c, t, "grad_weight")
    cdef void *pdb = _optional_data(dbeta, c, t, "grad_bias")
    with nogil:
        if is_double:
            fastnn_batch_norm_backward_f64(n, c, s, <const double *>px, <const double *>pdy,
                                           <const double *>pm, <const double *>pi, <const double *>pg,
                                           training, <double *>pdx, <double *>pdg, <double *>pdb, accumulate)
        else:
            fastnn_batch_norm_backward_f32(n, c, s, <const float *>px, <const float *>pdy,
                                           <const double *>pm, <const double *>pi, <const float *>pg,
                                           training, <float *>pdx, <float *>pdg, <float *>pdb, accumulate)
