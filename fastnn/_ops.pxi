# The elementwise shell (csrc/activations.h, csrc/losses.h). Internal: fastnn.functional validates
# and allocates; here we check only what would make C read or write out of bounds, then call C
# once without the GIL.
from libc.stdint cimport int64_t

cdef extern from "activations.h" nogil:
    void fastnn_activation_forward_f32(fastnn_activation_spec act, ptrdiff_t n, const float *x, float *y)
    void fastnn_activation_forward_f64(fastnn_activation_spec act, ptrdiff_t n, const double *x, double *y)
    void fastnn_activation_backward_f32(fastnn_activation_spec act, ptrdiff_t n, const float *grad_output,
                                        const float *saved, float *grad_input)
    void fastnn_activation_backward_f64(fastnn_activation_spec act, ptrdiff_t n, const double *grad_output,
                                        const double *saved, double *grad_input)
    void fastnn_delta_and_bias_grad_f32(fastnn_activation_spec act, ptrdiff_t rows, ptrdiff_t cols,
                                        const float *grad_output, ptrdiff_t ld_grad_output,
                                        const float *saved, ptrdiff_t ld_saved, float *delta,
                                        ptrdiff_t ld_delta, float *bias_grad, int accumulate)
    void fastnn_delta_and_bias_grad_f64(fastnn_activation_spec act, ptrdiff_t rows, ptrdiff_t cols,
                                        const double *grad_output, ptrdiff_t ld_grad_output,
                                        const double *saved, ptrdiff_t ld_saved, double *delta,
                                        ptrdiff_t ld_delta, double *bias_grad, int accumulate)
    void fastnn_softmax_f32(ptrdiff_t rows, ptrdiff_t cols, const float *x, float *y, int take_log)
    void fastnn_softmax_f64(ptrdiff_t rows, ptrdiff_t cols, const double *x, double *y, int take_log)
    void fastnn_softmax_backward_f32(ptrdiff_t rows, ptrdiff_t cols, const float *grad_output,
                                     const float *output, float *grad_input, int take_log)
    void fastnn_softmax_backward_f64(ptrdiff_t rows, ptrdiff_t cols, const double *grad_output,
                                     const double *output, double *grad_input, int take_log)

cdef extern from "losses.h" nogil:
    ctypedef struct fastnn_loss_info:
        const char *name
        int kind
        const char *param
        double default_param
    int FASTNN_LOSS_COUNT
    int FASTNN_LOSS_ELEMENTWISE, FASTNN_LOSS_CLASS_ROWS, FASTNN_LOSS_PROB_ROWS
    const fastnn_loss_info fastnn_loss_table[]
    ptrdiff_t fastnn_first_invalid_class(ptrdiff_t n, const int64_t *target, int64_t classes)
    ptrdiff_t fastnn_first_invalid_sign_f32(ptrdiff_t n, const float *target)
    ptrdiff_t fastnn_first_invalid_sign_f64(ptrdiff_t n, const double *target)
    double fastnn_elementwise_loss_f32(int loss, double param, ptrdiff_t n, const float *input,
                                       const float *target, float *grad, double grad_scale,
                                       float *losses)
    double fastnn_elementwise_loss_f64(int loss, double param, ptrdiff_t n, const double *input,
                                       const double *target, double *grad, double grad_scale,
                                       double *losses)
    double fastnn_class_loss_f32(int loss, double param, ptrdiff_t rows, ptrdiff_t cols,
                                 const float *scores, const int64_t *target, float *grad,
                                 double grad_scale, float *losses)
    double fastnn_class_loss_f64(int loss, double param, ptrdiff_t rows, ptrdiff_t cols,
                                 const double *scores, const int64_t *target, double *grad,
                                 double grad_scale, double *losses)
    double fastnn_cross_entropy_probs_f32(ptrdiff_t rows, ptrdiff_t cols, const float *logits,
                                          const float *target, float *grad, double grad_scale,
                                          float *losses)
    double fastnn_cross_entropy_probs_f64(ptrdiff_t rows, ptrdiff_t cols, const double *logits,
                                          const double *target, double *grad, double grad_scale,
                                          double *losses)

_LOSS_KINDS = ("elementwise", "class_rows", "prob_rows")
# The loss table of csrc/loss_table.h as C compiled it: per loss its name, code, kind (what its
# target is) and its parameter with its default.
LOSS_TABLE = tuple(
    {"name": fastnn_loss_table[code].name.decode(), "code": code,
     "kind": _LOSS_KINDS[fastnn_loss_table[code].kind],
     "params": (((fastnn_loss_table[code].param.decode(), fastnn_loss_table[code].default_param),)
                if fastnn_loss_table[code].param[0] != 0 else ())}
    for code in range(FASTNN_LOSS_COUNT))
LOSSES = {row["name"]: row["code"] for row in LOSS_TABLE}
_HINGE = LOSSES["hinge"]


cdef inline bint _is_double(cnp.ndarray x) except -1:
    cdef int typenum = cnp.PyArray_TYPE(x)
    if typenum == cnp.NPY_DOUBLE:
        return True
    if typenum == cnp.NPY_FLOAT:
        return False
    raise TypeError(f"expected float32 or float64, got {x.dtype}")


cdef inline void *_data(cnp.ndarray x, ptrdiff_t size, int typenum, str name) except NULL:
    """x's data, after checking it is a C-contiguous array of `size` elements of `typenum`."""
    if cnp.PyArray_TYPE(x) != typenum or cnp.PyArray_SIZE(x) != size or not cnp.PyArray_IS_C_CONTIGUOUS(x):
        raise ValueError(f"{name}: expected a C-contiguous array of {size} elements of the operands' "
                         f"dtype, got shape {(<object>x).shape}, dtype {x.dtype}")
    _check_aligned(x, name)
    return cnp.PyArray_DATA(x)


cdef inline void *_optional_data(cnp.ndarray x, ptrdiff_t size, int typenum, str name) except? NULL:
    if x is None:
        return NULL
    return _data(x, size, typenum, name)


cdef inline void *_rows_data(cnp.ndarray x, ptrdiff_t rows, ptrdiff_t cols, int typenum, str name,
                             ptrdiff_t *ld) except NULL:
    """x's data and row stride (in elements), after checking it is (rows, cols) of `typenum` with
    unit column stride."""
    if (cnp.PyArray_TYPE(x) != typenum or x.ndim != 2 or x.shape[0] != rows or x.shape[1] != cols
            or (rows and cols and x.strides[1] != x.itemsize) or x.strides[0] % x.itemsize):
        raise ValueError(f"{name}: expected ({rows}, {cols}) of the operands' dtype with unit column "
                         f"stride, got shape {(<object>x).shape}, strides {(<object>x).strides}, dtype {x.dtype}")
    _check_aligned(x, name)
    ld[0] = x.strides[0] // x.itemsize
    return cnp.PyArray_DATA(x)


def activation_forward(object activation, cnp.ndarray x not None, cnp.ndarray y not None):
    """y = act(x), elementwise over C-contiguous arrays of one size (y may be x)."""
    cdef fastnn_activation_spec spec = _activation_spec(activation)
    cdef bint is_double = _is_double(x)
    cdef ptrdiff_t n = cnp.PyArray_SIZE(x)
    cdef void *px = _data(x, n, cnp.PyArray_TYPE(x), "x")
    cdef void *py = _data(y, n, cnp.PyArray_TYPE(x), "y")
    with nogil:
        if is_double:
            fastnn_activation_forward_f64(spec, n, <const double *>px, <double *>py)
        else:
            fastnn_activation_forward_f32(spec, n, <const float *>px, <float *>py)
    return y


def activation_backward(object activation, cnp.ndarray grad_output not None, cnp.ndarray saved not None,
                        cnp.ndarray grad_input not None):
    """grad_input = grad_output * act'(saved): saved is the forward output or input, as the
    activation table says."""
    cdef fastnn_activation_spec spec = _activation_spec(activation)
    cdef bint is_double = _is_double(grad_output)
    cdef int typenum = cnp.PyArray_TYPE(grad_output)
    cdef ptrdiff_t n = cnp.PyArray_SIZE(grad_output)
    cdef void *pg = _data(grad_output, n, typenum, "grad_output")
    cdef void *ps = _data(saved, n, typenum, "saved")
    cdef void *pgi = _data(grad_input, n, typenum, "grad_input")
    with nogil:
        if is_double:
            fastnn_activation_backward_f64(spec, n, <const double *>pg, <const double *>ps,
                                           <double *>pgi)
        else:
            fastnn_activation_backward_f32(spec, n, <const float *>pg, <const float *>ps,
                                           <float *>pgi)
    return grad_input


def delta_and_bias_grad(object activation, cnp.ndarray grad_output not None, cnp.ndarray saved, cnp.ndarray delta,
                        cnp.ndarray bias_grad, bint accumulate):
    """One pass: delta = grad_output * act'(saved) (when delta is given) and bias_grad = (or +=)
    the column sums of delta, or of grad_output when delta is None (when bias_grad is given).
    2-D operands need unit column stride; bias_grad is contiguous (cols,)."""
    cdef fastnn_activation_spec spec = _activation_spec(activation)
    cdef bint is_double = _is_double(grad_output)
    cdef int typenum = cnp.PyArray_TYPE(grad_output)
    if grad_output.ndim != 2:
        raise ValueError(f"grad_output: expected 2-D, got shape {(<object>grad_output).shape}")
    cdef ptrdiff_t rows = grad_output.shape[0], cols = grad_output.shape[1]
    cdef ptrdiff_t ld_g = 0, ld_s = 0, ld_d = 0
    cdef void *pg = _rows_data(grad_output, rows, cols, typenum, "grad_output", &ld_g)
    cdef void *ps = NULL
    cdef void *pd = NULL
    if delta is not None:
        if saved is None:
            raise ValueError("delta_and_bias_grad: delta needs the saved activation values")
        ps = _rows_data(saved, rows, cols, typenum, "saved", &ld_s)
        pd = _rows_data(delta, rows, cols, typenum, "delta", &ld_d)
    cdef void *pb = _optional_data(bias_grad, cols, typenum, "bias_grad")
    with nogil:
        if is_double:
            fastnn_delta_and_bias_grad_f64(spec, rows, cols, <const double *>pg, ld_g,
                                           <const double *>ps, ld_s, <double *>pd, ld_d,
                                           <double *>pb, accumulate)
        else:
            fastnn_delta_and_bias_grad_f32(spec, rows, cols, <const float *>pg, ld_g,
                                           <const float *>ps, ld_s, <float *>pd, ld_d,
                                           <float *>pb, accumulate)
    return delta


def softmax(cnp.ndarray x not None, cnp.ndarray y not None, bint take_log):
    """Softmax (or log-softmax) of each row of C-contiguous 2-D x into y (y may be x)."""
    cdef bint is_double = _is_double(x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    if x.ndim != 2:
        raise ValueError(f"softmax: expected 2-D rows, got shape {(<object>x).shape}")
    cdef ptrdiff_t rows = x.shape[0], cols = x.shape[1]
    if cols == 0:
        return y
    cdef void *px = _data(x, rows * cols, typenum, "x")
    cdef void *py = _data(y, rows * cols, typenum, "y")
    with nogil:
        if is_double:
            fastnn_softmax_f64(rows, cols, <const double *>px, <double *>py, take_log)
        else:
            fastnn_softmax_f32(rows, cols, <const float *>px, <float *>py, take_log)
    return y


def softmax_backward(cnp.ndarray grad_output not None, cnp.ndarray output not None,
                     cnp.ndarray grad_input not None, bint take_log):
    """The input gradient of softmax (or log-softmax) over rows, from its output."""
    cdef bint is_double = _is_double(grad_output)
    cdef int typenum = cnp.PyArray_TYPE(grad_output)
    if grad_output.ndim != 2:
        raise ValueError(f"softmax_backward: expected 2-D rows, got shape {(<object>grad_output).shape}")
    cdef ptrdiff_t rows = grad_output.shape[0], cols = grad_output.shape[1]
    cdef ptrdiff_t n = rows * cols
    cdef void *pg = _data(grad_output, n, typenum, "grad_output")
    cdef void *py = _data(output, n, typenum, "output")
    cdef void *pgi = _data(grad_input, n, typenum, "grad_input")
    with nogil:
        if is_double:
            fastnn_softmax_backward_f64(rows, cols, <const double *>pg, <const double *>py,
                                        <double *>pgi, take_log)
        else:
            fastnn_softmax_backward_f32(rows, cols, <const float *>pg, <const float *>py,
                                        <float *>pgi, take_log)
    return grad_input


cdef inline const int64_t *_class_data(cnp.ndarray target, ptrdiff_t rows, ptrdiff_t classes,
                                       str caller) except NULL:
    """target's data, after checking it holds `rows` int64 class indices in [0, classes)."""
    if cnp.PyArray_TYPE(target) != cnp.NPY_INT64 or cnp.PyArray_SIZE(target) != rows \
            or not cnp.PyArray_IS_C_CONTIGUOUS(target):
        raise ValueError(f"{caller}: target must be {rows} contiguous int64 class indices")
    _check_aligned(target, f"{caller}: target")
    cdef const int64_t *pt = <const int64_t *>cnp.PyArray_DATA(target)
    cdef ptrdiff_t bad
    with nogil:
        bad = fastnn_first_invalid_class(rows, pt, classes)
    if bad >= 0:
        raise ValueError(f"{caller}: target[{bad}] = {pt[bad]} is not a class index in [0, {classes})")
    return pt


def elementwise_loss(int loss, double param, cnp.ndarray input not None, cnp.ndarray target not None,
                     cnp.ndarray grad, double grad_scale, cnp.ndarray losses):
    """The sum over elements of the elementwise loss `loss` (a code of LOSSES) of input against
    target, C-contiguous arrays of one size; grad and losses optional. Hinge targets not in
    {-1, 1}: ValueError."""
    if not 0 <= loss < FASTNN_LOSS_COUNT or LOSS_TABLE[loss]["kind"] != "elementwise":
        raise ValueError(f"elementwise_loss: {loss} is not an elementwise loss of the table")
    cdef bint is_double = _is_double(input)
    cdef int typenum = cnp.PyArray_TYPE(input)
    cdef ptrdiff_t n = cnp.PyArray_SIZE(input)
    cdef void *px = _data(input, n, typenum, "input")
    cdef void *pt = _data(target, n, typenum, "target")
    cdef void *pg = _optional_data(grad, n, typenum, "grad")
    cdef void *pl = _optional_data(losses, n, typenum, "losses")
    cdef ptrdiff_t bad = -1
    cdef double total
    if loss == _HINGE:
        with nogil:
            if is_double:
                bad = fastnn_first_invalid_sign_f64(n, <const double *>pt)
            else:
                bad = fastnn_first_invalid_sign_f32(n, <const float *>pt)
        if bad >= 0:
            raise ValueError(f"hinge_loss: target[{bad}] = {target.reshape(-1)[bad]} is not -1 or 1")
    with nogil:
        if is_double:
            total = fastnn_elementwise_loss_f64(loss, param, n, <const double *>px, <const double *>pt,
                                                <double *>pg, grad_scale, <double *>pl)
        else:
            total = fastnn_elementwise_loss_f32(loss, param, n, <const float *>px, <const float *>pt,
                                                <float *>pg, grad_scale, <float *>pl)
    return total


def class_loss(int loss, double param, cnp.ndarray scores not None, cnp.ndarray target not None,
               cnp.ndarray grad, double grad_scale, cnp.ndarray losses, str caller):
    """The sum over rows of the class-index loss `loss` (a code of LOSSES) of C-contiguous (N, C)
    scores against int64 targets (out of range: ValueError naming `caller`)."""
    if not 0 <= loss < FASTNN_LOSS_COUNT or LOSS_TABLE[loss]["kind"] != "class_rows":
        raise ValueError(f"class_loss: {loss} is not a class-index loss of the table")
    cdef bint is_double = _is_double(scores)
    cdef int typenum = cnp.PyArray_TYPE(scores)
    if scores.ndim != 2:
        raise ValueError(f"{caller}: scores must be 2-D, got shape {(<object>scores).shape}")
    cdef ptrdiff_t rows = scores.shape[0], cols = scores.shape[1]
    cdef void *px = _data(scores, rows * cols, typenum, "scores")
    cdef const int64_t *pt = _class_data(target, rows, cols, caller)
    cdef void *pg = _optional_data(grad, rows * cols, typenum, "grad")
    cdef void *pl = _optional_data(losses, rows, typenum, "losses")
    cdef double total
    with nogil:
        if is_double:
            total = fastnn_class_loss_f64(loss, param, rows, cols, <const double *>px, pt,
                                          <double *>pg, grad_scale, <double *>pl)
        else:
            total = fastnn_class_loss_f32(loss, param, rows, cols, <const float *>px, pt,
                                          <float *>pg, grad_scale, <float *>pl)
    return total


def cross_entropy_probs(cnp.ndarray logits not None, cnp.ndarray target not None, cnp.ndarray grad, double grad_scale,
                        cnp.ndarray losses):
    """Sum over rows of -sum_j target_ij log_softmax(logits_i)_j; C-contiguous (N, C) operands."""
    cdef bint is_double = _is_double(logits)
    cdef int typenum = cnp.PyArray_TYPE(logits)
    cdef ptrdiff_t rows = logits.shape[0], cols = logits.shape[1]
    cdef void *px = _data(logits, rows * cols, typenum, "logits")
    cdef void *pt = _data(target, rows * cols, typenum, "target")
    cdef void *pg = _optional_data(grad, rows * cols, typenum, "grad")
    cdef void *pl = _optional_data(losses, rows, typenum, "losses")
    cdef double total
    with nogil:
        if is_double:
            total = fastnn_cross_entropy_probs_f64(rows, cols, <const double *>px, <const double *>pt,
                                                   <double *>pg, grad_scale, <double *>pl)
        else:
            total = fastnn_cross_entropy_probs_f32(rows, cols, <const float *>px, <const float *>pt,
                                                   <float *>pg, grad_scale, <float *>pl)
    return total


def first_overlap(cnp.ndarray out not None, *inputs):
    """The position of the first of `inputs` (None skipped) whose memory bounds overlap out's, or
    -1: numpy.may_share_memory's bounds test (_may_overlap, _gemm.pxi), for several arrays in one
    cheap call."""
    for position, x in enumerate(inputs):
        if x is not None and _may_overlap(out, <cnp.ndarray?>x):
            return position
    return -1
