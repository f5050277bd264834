# The optimizer-update shell (csrc/optim.h). Internal: fastnn.optim owns the state buffers and
# validates hyper-parameters; here we only check what would make C read or write out of bounds.

cdef extern from "optim.h" nogil:
    ctypedef struct fastnn_sgd_hyper:
        double lr, momentum, dampening, weight_decay, l1
        int nesterov, first_step
    ctypedef struct fastnn_adam_hyper:
        double lr, beta1, beta2, eps, weight_decay
        long long step
        int decoupled_weight_decay
    void fastnn_sgd_step_f32(ptrdiff_t n, float *param, const float *grad, float *momentum_buffer,
                             const fastnn_sgd_hyper *hyper)
    void fastnn_sgd_step_f64(ptrdiff_t n, double *param, const double *grad, double *momentum_buffer,
                             const fastnn_sgd_hyper *hyper)
    void fastnn_adam_step_f32(ptrdiff_t n, float *param, const float *grad, float *exp_avg,
                              float *exp_avg_sq, float *max_exp_avg_sq, const fastnn_adam_hyper *hyper)
    void fastnn_adam_step_f64(ptrdiff_t n, double *param, const double *grad, double *exp_avg,
                              double *exp_avg_sq, double *max_exp_avg_sq, const fastnn_adam_hyper *hyper)


cdef int _check_updated(cnp.ndarray param) except -1:
    if cnp.PyArray_TYPE(param) not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64):
        raise TypeError(f"optimizer: parameter must be float32 or float64, got {param.dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(param) or not cnp.PyArray_ISWRITEABLE(param):
        raise ValueError("optimizer: parameter must be C-contiguous and writeable")
    _check_aligned(param, "optimizer: parameter")
    return 0


cdef void *_state_data(cnp.ndarray param, cnp.ndarray x, str name, bint written) except NULL:
    """x's data, after checking it matches param elementwise (same dtype and size, contiguous)."""
    if (cnp.PyArray_TYPE(x) != cnp.PyArray_TYPE(param) or cnp.PyArray_SIZE(x) != cnp.PyArray_SIZE(param)
            or not cnp.PyArray_IS_C_CONTIGUOUS(x) or (written and not cnp.PyArray_ISWRITEABLE(x))):
        raise ValueError(f"optimizer: {name} must be a contiguous{' writeable' if written else ''} "
                         f"{param.dtype} array of {param.size} elements like its parameter, "
                         f"got {x.dtype} {(<object>x).shape}")
    _check_aligned(x, f"optimizer: {name}")
    return cnp.PyArray_DATA(x)


def sgd_step(cnp.ndarray param not None, cnp.ndarray grad not None, cnp.ndarray momentum_buffer, double lr,
             double momentum, double dampening, bint nesterov, double weight_decay, double l1,
             bint first_step):
    """One SGD update of `param` in place; `momentum_buffer` None when momentum == 0."""
    _check_updated(param)
    cdef fastnn_sgd_hyper hyper
    hyper.lr = lr
    hyper.momentum = momentum
    hyper.dampening = dampening
    hyper.weight_decay = weight_decay
    hyper.l1 = l1
    hyper.nesterov = nesterov
    hyper.first_step = first_step
    cdef ptrdiff_t n = cnp.PyArray_SIZE(param)
    cdef void *p = cnp.PyArray_DATA(param)
    cdef void *g = _state_data(param, grad, "grad", False)
    cdef void *buf = NULL
    if momentum_buffer is not None:
        buf = _state_data(param, momentum_buffer, "momentum_buffer", True)
    with nogil:
        if cnp.PyArray_TYPE(param) == cnp.NPY_FLOAT64:
            fastnn_sgd_step_f64(n, <double *>p, <const double *>g, <double *>buf, &hyper)
        else:
            fastnn_sgd_step_f32(n, <float *>p, <const float *>g, <float *>buf, &hyper)


def adam_step(cnp.ndarray param not None, cnp.ndarray grad not None, cnp.ndarray exp_avg not None,
              cnp.ndarray exp_avg_sq not None,
              cnp.ndarray max_exp_avg_sq, double lr, double beta1, double beta2, double eps,
              double weight_decay, bint decoupled_weight_decay, long long step):
    """One Adam (or, decoupled, AdamW) update of `param` in place; step counts from 1;
    `max_exp_avg_sq` None unless amsgrad."""
    _check_updated(param)
    if step < 1:
        raise ValueError(f"adam_step: step counts from 1, got {step}")
    cdef fastnn_adam_hyper hyper
    hyper.lr = lr
    hyper.beta1 = beta1
    hyper.beta2 = beta2
    hyper.eps = eps
    hyper.weight_decay = weight_decay
    hyper.step = step
    hyper.decoupled_weight_decay = decoupled_weight_decay
    cdef ptrdiff_t n = cnp.PyArray_SIZE(param)
    cdef void *p = cnp.PyArray_DATA(param)
    cdef void *g = _state_data(param, grad, "grad", False)
    cdef void *m = _state_data(param, exp_avg, "exp_avg", True)
    cdef void *v = _state_data(param, exp_avg_sq, "exp_avg_sq", True)
    cdef void *v_max = NULL
    if max_exp_avg_sq is not None:
        v_max = _state_data(param, max_exp_avg_sq, "max_exp_avg_sq", True)
    with nogil:
        if cnp.PyArray_TYPE(param) == cnp.NPY_FLOAT64:
            fastnn_adam_step_f64(n, <double *>p, <const double *>g, <double *>m, <double *>v,
                                 <double *>v_max, &hyper)
        else:
            fastnn_adam_step_f32(n, <float *>p, <const float *>g, <float *>m, <float *>v,
                                 <float *>v_max, &hyper)


cdef extern from "optim_kernels.h" nogil:
    ctypedef struct fastnn_optim_kernels_f32:
        double (*sum_squares)(ptrdiff_t n, const float *x) noexcept nogil
    ctypedef struct fastnn_optim_kernels_f64:
        double (*sum_squares)(ptrdiff_t n, const double *x) noexcept nogil
    ctypedef struct fastnn_optim_kernels:
        fastnn_optim_kernels_f32 f32
        fastnn_optim_kernels_f64 f64
    const fastnn_optim_kernels *fastnn_optim_kernels_active()


def _sum_squares(cnp.ndarray x not None):
    """Test-only: the active set's sum_squares kernel (the L2 penalty's |W|^2) on a 1-D
    contiguous float32 or float64 array."""
    if cnp.PyArray_TYPE(x) not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64):
        raise TypeError(f"_sum_squares: x must be float32 or float64, got {x.dtype}")
    if x.ndim != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(x):
        raise ValueError(f"_sum_squares: x must be 1-D and contiguous, got shape {(<object>x).shape}")
    cdef ptrdiff_t n = cnp.PyArray_SIZE(x)
    cdef const void *data = cnp.PyArray_DATA(x)
    cdef const fastnn_optim_kernels *kernels = fastnn_optim_kernels_active()
    cdef double total
    with nogil:
        if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT64:
            total = kernels.f64.sum_squares(n, <const double *>data)
        else:
            total = kernels.f32.sum_squares(n, <const float *>data)
    return total
