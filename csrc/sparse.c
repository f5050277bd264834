/* Sparse (CSR) x dense products of sparse.h.
 *
 * Both loops keep one row of W (or dW) hot while they run over a block of input rows: a weight
 * row is touched at the row's nonzero columns only, so walking every output unit for one input
 * row would visit out_features distant cache lines per nonzero, while this order reuses each
 * weight row for a whole block of input rows. The forward pass splits the input rows among
 * threads (each writes its own output rows), the weight gradient splits the output units (each
 * thread owns whole rows of dW): no two threads write the same element, so there are no atomics
 * and the result does not depend on the thread count. */
#include "sparse.h"

#include <string.h>

#include "dispatch.h"
#include "fp_env.h"

/* Rows per block of the forward pass: their nonzeros (a few hundred kB for typical text data)
 * stay in L2 while every weight row streams past them once. */
#define FASTNN_CSR_ROW_BLOCK 64

/* Below this many multiply-adds a thread team costs more than it saves. */
#define FASTNN_CSR_PARALLEL_MIN ((ptrdiff_t)1 << 16)

static int csr_threads(ptrdiff_t work)
{
    int threads = work >= FASTNN_CSR_PARALLEL_MIN ? fastnn_get_num_threads() : 1;
    return threads > 1 ? threads : 1;
}

#define DEFINE_CSR_FORWARD(T, I, SUFFIX)                                                         \
    void fastnn_csr_linear_##SUFFIX(ptrdiff_t n_rows, ptrdiff_t out_features, const T *data,     \
                                    const I *indices, const I *indptr, const T *weight,          \
                                    ptrdiff_t ldw, const T *bias, T *out, ptrdiff_t ldo)         \
    {                                                                                            \
        ptrdiff_t n_blocks = (n_rows + FASTNN_CSR_ROW_BLOCK - 1) / FASTNN_CSR_ROW_BLOCK;         \
        int threads = csr_threads((ptrdiff_t)(indptr[n_rows] - indptr[0]) * out_features);       \
        _Pragma("omp parallel for num_threads(threads) if (threads > 1) schedule(dynamic)")     \
        for (ptrdiff_t block = 0; block < n_blocks; block++) {                                   \
            unsigned int fp_state = fastnn_flush_denormals_begin();                              \
            ptrdiff_t first = block * FASTNN_CSR_ROW_BLOCK;                                      \
            ptrdiff_t last = first + FASTNN_CSR_ROW_BLOCK < n_rows ? first + FASTNN_CSR_ROW_BLOCK \
                                                                   : n_rows;                     \
            for (ptrdiff_t o = 0; o < out_features; o++) {                                       \
                const T *w = weight + o * ldw;                                                   \
                T start = bias ? bias[o] : (T)0;                                                 \
                for (ptrdiff_t i = first; i < last; i++) {                                       \
                    T sum = start;                                                               \
                    for (I k = indptr[i]; k < indptr[i + 1]; k++)                                \
                        sum += data[k] * w[indices[k]];                                          \
                    out[i * ldo + o] = sum;                                                      \
                }                                                                                \
            }                                                                                    \
            fastnn_flush_denormals_end(fp_state);                                                \
        }                                                                                        \
    }

#define DEFINE_CSR_WEIGHT_GRAD(T, I, SUFFIX)                                                     \
    void fastnn_csr_weight_grad_##SUFFIX(ptrdiff_t n_rows, ptrdiff_t n_cols,                     \
                                         ptrdiff_t out_features, const T *data, const I *indices, \
                                         const I *indptr, const T *grad, ptrdiff_t lds,          \
                                         T *weight_grad, ptrdiff_t ldw, int accumulate)          \
    {                                                                                            \
        int threads = csr_threads((ptrdiff_t)(indptr[n_rows] - indptr[0]) * out_features);       \
        _Pragma("omp parallel for num_threads(threads) if (threads > 1) schedule(static)")      \
        for (ptrdiff_t o = 0; o < out_features; o++) {                                           \
            unsigned int fp_state = fastnn_flush_denormals_begin();                              \
            T *dw = weight_grad + o * ldw;                                                       \
            if (!accumulate)                                                                     \
                memset(dw, 0, (size_t)n_cols * sizeof(T));                                       \
            for (ptrdiff_t i = 0; i < n_rows; i++) {                                             \
                T d = grad[i * lds + o];                                                         \
                if (d == 0)                                                                      \
                    continue; /* ReLU zeroes many: their rows add nothing */                    \
                for (I k = indptr[i]; k < indptr[i + 1]; k++)                                    \
                    dw[indices[k]] += d * data[k];                                               \
            }                                                                                    \
            fastnn_flush_denormals_end(fp_state);                                                \
        }                                                                                        \
    }

DEFINE_CSR_FORWARD(float, int32_t, f32_i32)
DEFINE_CSR_FORWARD(float, int64_t, f32_i64)
DEFINE_CSR_FORWARD(double, int32_t, f64_i32)
DEFINE_CSR_FORWARD(double, int64_t, f64_i64)
DEFINE_CSR_WEIGHT_GRAD(float, int32_t, f32_i32)
DEFINE_CSR_WEIGHT_GRAD(float, int64_t, f32_i64)
DEFINE_CSR_WEIGHT_GRAD(double, int32_t, f64_i32)
DEFINE_CSR_WEIGHT_GRAD(double, int64_t, f64_i64)
