/* The Linear layer's epilogue: C += bias along each row, then the activation, on a strip of C
 * the GEMM has just written (so it is still in L1). With pre_activation set, the bias-added
 * values are kept there first: GELU's derivative needs them. */
#include <string.h>

#include "activation_math.h"
#include "gemm.h"

/* One loop per activation, so each is specialised and vectorised where the compiler can. */
#define APPLY_ROW(T, SUFFIX, ACT) \
    for (ptrdiff_t j = 0; j < cols; j++) row[j] = fastnn_act_forward_##SUFFIX(ACT, row[j])

#define DEFINE_BIAS_ACTIVATION(T, SUFFIX)                                                      \
    void fastnn_bias_activation_##SUFFIX(const fastnn_epilogue *self, void *c, ptrdiff_t ldc,  \
                                         ptrdiff_t row0, ptrdiff_t col0, ptrdiff_t rows,       \
                                         ptrdiff_t cols)                                       \
    {                                                                                          \
        const T *bias = self->bias ? (const T *)self->bias + col0 : NULL;                      \
        T *pre = self->pre_activation                                                          \
                     ? (T *)self->pre_activation + row0 * self->ld_pre + col0 : NULL;          \
        for (ptrdiff_t i = 0; i < rows; i++) {                                                 \
            T *row = (T *)c + i * ldc;                                                         \
            if (bias)                                                                          \
                for (ptrdiff_t j = 0; j < cols; j++) row[j] += bias[j];                        \
            if (pre)                                                                           \
                memcpy(pre + i * self->ld_pre, row, sizeof(T) * (size_t)cols);                 \
            switch ((fastnn_activation)self->activation) {                                     \
            case FASTNN_ACT_RELU: APPLY_ROW(T, SUFFIX, FASTNN_ACT_RELU); break;                \
            case FASTNN_ACT_TANH: APPLY_ROW(T, SUFFIX, FASTNN_ACT_TANH); break;                \
            case FASTNN_ACT_SIGMOID: APPLY_ROW(T, SUFFIX, FASTNN_ACT_SIGMOID); break;          \
            case FASTNN_ACT_GELU: APPLY_ROW(T, SUFFIX, FASTNN_ACT_GELU); break;                \
            case FASTNN_ACT_GELU_TANH: APPLY_ROW(T, SUFFIX, FASTNN_ACT_GELU_TANH); break;      \
            default: break;                                                                    \
            }                                                                                  \
        }                                                                                      \
    }

DEFINE_BIAS_ACTIVATION(float, f32)
DEFINE_BIAS_ACTIVATION(double, f64)

void fastnn_epilogue_init(fastnn_epilogue *epilogue, int is_double, const void *bias,
                          int activation, void *pre_activation, ptrdiff_t ld_pre)
{
    epilogue->apply = is_double ? fastnn_bias_activation_f64 : fastnn_bias_activation_f32;
    epilogue->bias = bias;
    epilogue->activation = activation;
    epilogue->pre_activation = pre_activation;
    epilogue->ld_pre = ld_pre;
}
