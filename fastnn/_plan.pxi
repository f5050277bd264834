# The compiled-network shell (csrc/plan.h, csrc/fused_optim.h). Internal: fastnn/nn/plan.py builds
# the plan from a model, allocates every buffer and checks every input; here we keep the arrays
# alive, fill the C structs and call C once per pass without the GIL.
from libc.stdlib cimport calloc, free
from libc.string cimport memset
from libc.stdint cimport uint64_t

cdef extern from "fused_optim.h" nogil:
    ctypedef struct fastnn_adam_scalars:
        pass
    ctypedef struct fastnn_update:
        int rule
        void *param
        void *state[3]
        fastnn_sgd_hyper sgd
        fastnn_adam_hyper adam
        int adam_eps_unscaled
    void fastnn_update_begin_step(fastnn_update *update)
    void fastnn_update_end_step(fastnn_update *update)
    int fastnn_weight_grad_update_f32(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t k, const float *delta,
                                      ptrdiff_t ld_delta, const float *x, ptrdiff_t ld_x, float *grad,
                                      int accumulate, const fastnn_update *update)
    int fastnn_weight_grad_update_f64(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t k, const double *delta,
                                      ptrdiff_t ld_delta, const double *x, ptrdiff_t ld_x, double *grad,
                                      int accumulate, const fastnn_update *update)

cdef extern from "plan.h" nogil:
    ctypedef struct fastnn_plan_layer:
        int kind
        ptrdiff_t in_ "in"
        ptrdiff_t out
        fastnn_activation_spec activation
        void *weight
        void *bias
        void *weight_grad
        void *bias_grad
        int weight_accumulate, bias_accumulate
        fastnn_update weight_update, bias_update
        void *output
        void *pre
        int bf16
    ctypedef struct fastnn_plan:
        int is_double
        int count
        fastnn_plan_layer *layers
        ptrdiff_t capacity
        int loss, loss_sum
        double loss_weight, grad_weight
        void *grad[2]
        void *input_line
    enum: FASTNN_CACHE_LINE_BYTES
    int fastnn_plan_forward(const fastnn_plan *plan, ptrdiff_t rows, const void *x, void *y)
    int fastnn_plan_train_step(fastnn_plan *plan, ptrdiff_t rows, const void *x, const void *target,
                               int update, double *loss)
    int fastnn_plan_fit_epoch(fastnn_plan *plan, ptrdiff_t n, const void *x, const void *target,
                              ptrdiff_t batch, uint64_t seed, int shuffle, int64_t *order,
                              double l2, void *x_batch, void *target_batch, double *loss_sum,
                              ptrdiff_t *steps)

# the alignment of the buffers the plan reads (fastnn/_aligned.py allocates with it)
CACHE_LINE_BYTES = FASTNN_CACHE_LINE_BYTES
PLAN_OPS = {"linear": 0, "activation": 1}
PLAN_RULES = {None: 0, "sgd": 1, "adam": 2}
EPOCH_ORDERS = {"in_order": 0, "shuffled": 1, "given": 2}


cdef void *_array_data(object x) except? NULL:
    """The data of an aligned, C-contiguous ndarray, or NULL for None (plan.py made them so)."""
    if x is None:
        return NULL
    cdef cnp.ndarray arr = <cnp.ndarray?>x
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr) or not cnp.PyArray_ISALIGNED(arr):
        raise ValueError("plan: buffers must be aligned and C-contiguous")
    return cnp.PyArray_DATA(arr)


cdef class Plan:
    """The C plan of one network, for one dtype, with buffers of `capacity` rows.

    Every array handed to it is kept referenced here, so the pointers C holds stay valid."""
    cdef fastnn_plan plan
    cdef list _keep
    cdef public object output_shape

    def __cinit__(self, bint is_double, int count):
        self.plan.is_double = is_double
        self.plan.count = count
        self.plan.layers = <fastnn_plan_layer *>calloc(max(count, 1), sizeof(fastnn_plan_layer))
        if self.plan.layers == NULL:
            raise MemoryError("plan: could not allocate the layer table")
        self._keep = []

    def __dealloc__(self):
        free(self.plan.layers)

    cdef fastnn_plan_layer *_layer(self, int i) except NULL:
        if not 0 <= i < self.plan.count:
            raise IndexError(f"plan: layer {i} out of range")
        return &self.plan.layers[i]

    def set_layer(self, int i, str op, ptrdiff_t in_features, ptrdiff_t out_features, int activation,
                  weight=None, bias=None, weight_grad=None, bias_grad=None, output=None, pre=None,
                  bint bf16=False):
        cdef fastnn_plan_layer *L = self._layer(i)
        if bf16 and self.plan.is_double:
            raise ValueError("plan: bf16 products take float32 layers")
        L.kind = PLAN_OPS[op]
        L.in_ = in_features
        L.out = out_features
        L.activation.kind = activation
        L.activation.a = 0
        L.activation.b = 0
        L.weight = _array_data(weight)
        L.bias = _array_data(bias)
        L.weight_grad = _array_data(weight_grad)
        L.bias_grad = _array_data(bias_grad)
        L.output = _array_data(output)
        L.pre = _array_data(pre)
        L.bf16 = bf16
        self._keep += [weight, bias, weight_grad, bias_grad, output, pre]

    def set_buffers(self, ptrdiff_t capacity, grad0, grad1, input_line=None):
        """input_line: one row of the input on a cache line (plan.h), or None."""
        self.plan.capacity = capacity
        self.plan.grad[0] = _array_data(grad0)
        self.plan.grad[1] = _array_data(grad1)
        cdef void *line = _array_data(input_line)
        cdef int itemsize = 8 if self.plan.is_double else 4
        if line != NULL and (input_line.size < self.plan.layers[0].in_
                             or input_line.itemsize != itemsize
                             or <size_t>line % FASTNN_CACHE_LINE_BYTES):
            raise ValueError("plan: input_line must hold one input row on a cache line")
        self.plan.input_line = line
        self._keep += [grad0, grad1, input_line]

    def set_loss(self, str kind, bint reduction_sum, double loss_weight=1.0, double grad_weight=1.0):
        """The loss by its name in the loss table (LOSSES), elementwise or on class indices; the
        reported loss and its gradient multiplied by loss_weight and grad_weight."""
        cdef int code = LOSSES[kind]
        cdef const fastnn_loss_info *row = &fastnn_loss_table[code]
        if row.kind == FASTNN_LOSS_PROB_ROWS or row.param[0] != 0:
            raise ValueError(f"plan: the {kind} loss takes probability rows or a parameter, which "
                             f"plans do not")
        self.plan.loss = code
        self.plan.loss_sum = reduction_sum
        self.plan.loss_weight = loss_weight
        self.plan.grad_weight = grad_weight

    def set_accumulate(self, int i, bint weight, bint bias):
        cdef fastnn_plan_layer *L = self._layer(i)
        L.weight_accumulate = weight
        L.bias_accumulate = bias

    cdef fastnn_update *_update(self, int i, bint of_bias) except NULL:
        cdef fastnn_plan_layer *L = self._layer(i)
        return &L.bias_update if of_bias else &L.weight_update

    def set_sgd(self, int i, bint of_bias, param, momentum_buffer, double lr, double momentum,
                double dampening, bint nesterov, double weight_decay, double l1, bint first_step):
        cdef fastnn_update *u = self._update(i, of_bias)
        u.rule = PLAN_RULES["sgd"]
        u.param = _array_data(param)
        u.state[0] = _array_data(momentum_buffer)
        u.state[1] = u.state[2] = NULL
        u.sgd.lr = lr
        u.sgd.momentum = momentum
        u.sgd.dampening = dampening
        u.sgd.nesterov = nesterov
        u.sgd.weight_decay = weight_decay
        u.sgd.l1 = l1
        u.sgd.first_step = first_step
        self._keep += [param, momentum_buffer]

    def set_adam(self, int i, bint of_bias, param, exp_avg, exp_avg_sq, max_exp_avg_sq, double lr,
                 double beta1, double beta2, double eps, double weight_decay, bint decoupled,
                 long long step, bint eps_unscaled=False):
        cdef fastnn_update *u = self._update(i, of_bias)
        u.rule = PLAN_RULES["adam"]
        u.param = _array_data(param)
        u.state[0] = _array_data(exp_avg)
        u.state[1] = _array_data(exp_avg_sq)
        u.state[2] = _array_data(max_exp_avg_sq)
        u.adam.lr = lr
        u.adam.beta1 = beta1
        u.adam.beta2 = beta2
        u.adam.eps = eps
        u.adam.weight_decay = weight_decay
        u.adam.decoupled_weight_decay = decoupled
        u.adam.step = step
        u.adam_eps_unscaled = eps_unscaled
        self._keep += [param, exp_avg, exp_avg_sq, max_exp_avg_sq]

    def set_lr(self, int i, bint of_bias, double lr):
        cdef fastnn_update *u = self._update(i, of_bias)
        u.sgd.lr = lr
        u.adam.lr = lr

    def sgd_first_step(self, int i, bint of_bias):
        return bool(self._update(i, of_bias).sgd.first_step)

    def adam_step_count(self, int i, bint of_bias):
        return self._update(i, of_bias).adam.step

    def set_adam_step(self, int i, bint of_bias, long long step):
        """Adam's step count before the next step (the optimizer's own step() may have moved it)."""
        self._update(i, of_bias).adam.step = step

    def forward(self, cnp.ndarray x, cnp.ndarray y):
        """The forward pass of x's rows into y (both checked by the caller)."""
        cdef ptrdiff_t rows = x.shape[0]
        cdef const void *px = cnp.PyArray_DATA(x)
        cdef void *py = cnp.PyArray_DATA(y)
        cdef int status
        with nogil:
            status = fastnn_plan_forward(&self.plan, rows, px, py)
        if status:
            raise MemoryError("plan: the GEMM could not allocate its packing buffers")
        return y

    def train_step(self, cnp.ndarray x, cnp.ndarray target, bint update):
        """One step on x's rows (checked by the caller); returns the loss."""
        cdef ptrdiff_t rows = x.shape[0]
        cdef const void *px = cnp.PyArray_DATA(x)
        cdef const void *pt = cnp.PyArray_DATA(target)
        cdef double loss = 0
        cdef int status
        cdef ptrdiff_t bad, classes = self.plan.layers[self.plan.count - 1].out
        if fastnn_loss_table[self.plan.loss].kind == FASTNN_LOSS_CLASS_ROWS:
            with nogil:
                bad = fastnn_first_invalid_class(rows, <const int64_t *>pt, classes)
            if bad >= 0:
                raise ValueError(f"compiled step: target[{bad}] = {target[bad]} is not a class "
                                 f"index in [0, {classes})")
        with nogil:
            status = fastnn_plan_train_step(&self.plan, rows, px, pt, update, &loss)
        if status:
            raise MemoryError("plan: the GEMM could not allocate its packing buffers")
        return loss

    def fit_epoch(self, cnp.ndarray x, cnp.ndarray target, ptrdiff_t batch, uint64_t seed,
                  str order_kind, cnp.ndarray order, double l2, cnp.ndarray x_batch,
                  cnp.ndarray target_batch):
        """An epoch of updating steps (everything checked by the caller: order holds a
        permutation when order_kind is "given"); returns (summed loss, steps)."""
        cdef int shuffle = EPOCH_ORDERS[order_kind]
        cdef ptrdiff_t n = x.shape[0], steps = 0
        cdef const void *px = cnp.PyArray_DATA(x)
        cdef const void *pt = cnp.PyArray_DATA(target)
        cdef int64_t *po = <int64_t *>cnp.PyArray_DATA(order)
        cdef void *pxb = cnp.PyArray_DATA(x_batch)
        cdef void *ptb = cnp.PyArray_DATA(target_batch)
        cdef double loss_sum = 0
        cdef int status
        with nogil:
            status = fastnn_plan_fit_epoch(&self.plan, n, px, pt, batch, seed, shuffle, po, l2,
                                           pxb, ptb, &loss_sum, &steps)
        if status:
            raise MemoryError("plan: the GEMM could not allocate its packing buffers")
        return loss_sum, steps


cdef _fused_weight_step(fastnn_update *u, cnp.ndarray delta, cnp.ndarray x, cnp.ndarray grad,
                        bint accumulate):
    """W (u.param, out x in) stepped by dW = deltaᵀ x (+ grad's content when accumulate), dW
    formed only where it is cheapest (fused_optim.h). The caller checked every shape, dtype and
    layout (fastnn/nn/fused_backward.py)."""
    cdef ptrdiff_t k = delta.shape[0], rows = grad.shape[0], cols = grad.shape[1]
    cdef void *pd = _array_data(delta)
    cdef void *px = _array_data(x)
    cdef void *pg = _array_data(grad)
    cdef bint is_double = grad.dtype == np.float64
    cdef int status
    with nogil:
        fastnn_update_begin_step(u)
        if is_double:
            status = fastnn_weight_grad_update_f64(rows, cols, k, <const double *>pd, rows,
                                                   <const double *>px, cols, <double *>pg,
                                                   accumulate, u)
        else:
            status = fastnn_weight_grad_update_f32(rows, cols, k, <const float *>pd, rows,
                                                   <const float *>px, cols, <float *>pg,
                                                   accumulate, u)
        if not status:
            fastnn_update_end_step(u)
    if status:
        raise MemoryError("fused update: the GEMM could not allocate its packing buffers")


def fused_sgd_weight_step(delta, x, grad, bint accumulate, param, momentum_buffer, double lr,
                          double momentum, double dampening, bint nesterov, double weight_decay,
                          double l1, bint first_step):
    """SGD's step of a Linear weight from its batch's dS (n, out) and input x (n, in)."""
    cdef fastnn_update u
    memset(&u, 0, sizeof(u))
    u.rule = PLAN_RULES["sgd"]
    u.param = _array_data(param)
    u.state[0] = _array_data(momentum_buffer)
    u.sgd.lr = lr
    u.sgd.momentum = momentum
    u.sgd.dampening = dampening
    u.sgd.nesterov = nesterov
    u.sgd.weight_decay = weight_decay
    u.sgd.l1 = l1
    u.sgd.first_step = first_step
    _fused_weight_step(&u, delta, x, grad, accumulate)


def fused_adam_weight_step(delta, x, grad, bint accumulate, param, exp_avg, exp_avg_sq,
                           max_exp_avg_sq, double lr, double beta1, double beta2, double eps,
                           double weight_decay, bint decoupled, long long step):
    """Adam's (AdamW's when decoupled) step of a Linear weight; `step` counts the steps before."""
    cdef fastnn_update u
    memset(&u, 0, sizeof(u))
    u.rule = PLAN_RULES["adam"]
    u.param = _array_data(param)
    u.state[0] = _array_data(exp_avg)
    u.state[1] = _array_data(exp_avg_sq)
    u.state[2] = _array_data(max_exp_avg_sq)
    u.adam.lr = lr
    u.adam.beta1 = beta1
    u.adam.beta2 = beta2
    u.adam.eps = eps
    u.adam.weight_decay = weight_decay
    u.adam.decoupled_weight_decay = decoupled
    u.adam.step = step
    _fused_weight_step(&u, delta, x, grad, accumulate)
