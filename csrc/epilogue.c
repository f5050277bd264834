/* The Linear layer's epilogue: C += bias along each row, then the activation, on a strip of C
 * the GEMM has just written (so it is still in L1). With pre_activation set, the bias-added
 * values are kept there first: the activations whose derivative reads the input need them. The row loops are kernels of the
 * active instruction set (csrc/kernels/activation_rows.h); this places them on the strip. */
#include "gemm.h"
#include "kernel_context.h"

#define DEFINE_BIAS_ACTIVATION(T, SUFFIX)                                                      \
    void fastnn_bias_activation_##SUFFIX(const fastnn_epilogue *self, void *c, ptrdiff_t ldc,  \
                                         ptrdiff_t row0, ptrdiff_t col0, ptrdiff_t rows,       \
                                         ptrdiff_t cols)                                       \
    {                                                                                          \
        const T *bias = self->bias ? (const T *)self->bias + col0 : NULL;                      \
        T *pre = self->pre_activation                                                          \
                     ? (T *)self->pre_activation + row0 * self->ld_pre + col0 : NULL;          \
        fastnn_active_context()->activations->SUFFIX.bias_activation(                          \
            self->activation, rows, cols, bias, (T *)c, ldc, pre, self->ld_pre);               \
    }

DEFINE_BIAS_ACTIVATION(float, f32)
DEFINE_BIAS_ACTIVATION(double, f64)

void fastnn_epilogue_init(fastnn_epilogue *epilogue, int is_double, const void *bias,
                          fastnn_activation_spec activation, void *pre_activation,
                          ptrdiff_t ld_pre)
{
    epilogue->apply = is_double ? fastnn_bias_activation_f64 : fastnn_bias_activation_f32;
    epilogue->bias = bias;
    epilogue->activation = activation;
    epilogue->pre_activation = pre_activation;
    epilogue->ld_pre = ld_pre;
}
