# The adaptive-rate optimizer shell (csrc/optim_adaptive.h). Internal: fastnn.optim owns the state
# and validates hyper-parameters; the array checks are _optim.pxi's.

cdef extern from "optim_adaptive.h" nogil:
    ctypedef struct fastnn_rmsprop_hyper:
        double lr, alpha, eps, weight_decay, momentum
    ctypedef struct fastnn_adagrad_hyper:
        double lr, lr_decay, eps, weight_decay
        long long step
    void fastnn_rmsprop_step_f32(ptrdiff_t n, float *param, const float *grad, float *square_avg,
                                 float *grad_avg, float *momentum_buffer,
                                 const fastnn_rmsprop_hyper *hyper)
    void fastnn_rmsprop_step_f64(ptrdiff_t n, double *param, const double *grad, double *square_avg,
                                 double *grad_avg, double *momentum_buffer,
                                 const fastnn_rmsprop_hyper *hyper)
    void fastnn_adagrad_step_f32(ptrdiff_t n, float *param, const float *grad, float *sum,
                                 const fastnn_adagrad_hyper *hyper)
    void fastnn_adagrad_step_f64(ptrdiff_t n, double *param, const double *grad, double *sum,
                                 const fastnn_adagrad_hyper *hyper)


def rmsprop_step(cnp.ndarray param not None, cnp.ndarray grad not None, cnp.ndarray square_avg not None,
                 cnp.ndarray grad_avg, cnp.ndarray momentum_buffer, double lr, double alpha, double eps, double weight_decay,
                 double momentum):
    """One RMSprop update of `param` in place; grad_avg None unless centered, momentum_buffer
    None unless momentum > 0."""
    _check_updated(param)
    cdef fastnn_rmsprop_hyper hyper
    hyper.lr, hyper.alpha, hyper.eps = lr, alpha, eps
    hyper.weight_decay, hyper.momentum = weight_decay, momentum
    cdef ptrdiff_t n = cnp.PyArray_SIZE(param)
    cdef void *p = cnp.PyArray_DATA(param)
    cdef void *g = _state_data(param, grad, "grad", False)
    cdef void *s = _state_data(param, square_avg, "square_avg", True)
    cdef void *a = NULL
    cdef void *b = NULL
    if grad_avg is not None:
        a = _state_data(param, grad_avg, "grad_avg", True)
    if momentum_buffer is not None:
        b = _state_data(param, momentum_buffer, "momentum_buffer", True)
    with nogil:
        if cnp.PyArray_TYPE(param) == cnp.NPY_FLOAT64:
            fastnn_rmsprop_step_f64(n, <double *>p, <const double *>g, <double *>s, <double *>a,
                                    <double *>b, &hyper)
        else:
            fastnn_rmsprop_step_f32(n, <float *>p, <const float *>g, <float *>s, <float *>a,
                                    <float *>b, &hyper)


def adagrad_step(cnp.ndarray param not None, cnp.ndarray grad not None, cnp.ndarray sum not None, double lr, double lr_decay,
                 double eps, double weight_decay, long long step):
    """One Adagrad update of `param` in place; step counts from 1."""
    _check_updated(param)
    if step < 1:
        raise ValueError(f"adagrad_step: step counts from 1, got {step}")
    cdef fastnn_adagrad_hyper hyper
    hyper.lr, hyper.lr_decay, hyper.eps = lr, lr_decay, eps
    hyper.weight_decay, hyper.step = weight_decay, step
    cdef ptrdiff_t n = cnp.PyArray_SIZE(param)
    cdef void *p = cnp.PyArray_DATA(param)
    cdef void *g = _state_data(param, grad, "grad", False)
    cdef void *s = _state_data(param, sum, "sum", True)
    with nogil:
        if cnp.PyArray_TYPE(param) == cnp.NPY_FLOAT64:
            fastnn_adagrad_step_f64(n, <double *>p, <const double *>g, <double *>s, &hyper)
        else:
            fastnn_adagrad_step_f32(n, <float *>p, <const float *>g, <float *>s, &hyper)
