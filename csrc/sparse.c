/* Sparse (CSR) x dense products of sparse.h.
 *
 * A weight row is touched at the input's nonzero columns only, so walking every output unit for
 * one input row would fetch out_features distant cache lines per nonzero. Instead the input rows
 * are taken in blocks whose nonzeros fit in L2 (FASTNN_CSR_BLOCK_NONZEROS), and for each block
 * every weight row (dW row) is streamed once past them: for a minibatch that is one block, so
 * each weight is read once per product. Threads take contiguous ranges of output units
 * (elementwise.h): each owns its out columns and dW rows, so no two threads write one element,
 * and every element is summed in the same order whatever the thread count. */
#include "sparse.h"

#include <string.h>

#include "elementwise.h"

/* Nonzeros of a block of input rows: 16384 values and column indices are 128-192 kB. */
#define FASTNN_CSR_BLOCK_NONZEROS 16384

/* The next weight row is fetched while this one is used, a slice of it per input row, so it
 * arrives as a stream: the gathers themselves jump about the row, which no hardware prefetcher
 * follows, and a row that fell out of cache (the optimiser streams every parameter between
 * products) would otherwise come in one cache miss at a time. */
#define CSR_PREFETCH_SLICE(next, n_lines, step, i, first, write)                                 \
    do {                                                                                         \
        if (next) {                                                                              \
            ptrdiff_t from_ = ((i) - (first)) * (step), to_ = from_ + (step);                   \
            for (ptrdiff_t line_ = from_; line_ < to_ && line_ < (n_lines); line_++)             \
                __builtin_prefetch((const char *)(next) + line_ * 64, write, 3);                \
        }                                                                                        \
    } while (0)

/* The end of the block of rows starting at `first`: at least one row, then rows while the
 * block's nonzeros stay within the budget. */
#define CSR_BLOCK_END(indptr, first, n_rows)                                                     \
    ({                                                                                           \
        ptrdiff_t last_ = (first) + 1;                                                           \
        while (last_ < (n_rows) &&                                                               \
               (ptrdiff_t)((indptr)[last_ + 1] - (indptr)[first]) <= FASTNN_CSR_BLOCK_NONZEROS)  \
            last_++;                                                                             \
        last_;                                                                                   \
    })

#define DEFINE_CSR(T, I, SUFFIX)                                                                 \
    typedef struct {                                                                             \
        ptrdiff_t n_rows, n_cols, ld_dense, ld_out;                                              \
        const T *data, *dense, *bias;                                                            \
        const I *indices, *indptr;                                                               \
        T *out;                                                                                  \
        int accumulate;                                                                          \
    } csr_args_##SUFFIX;                                                                         \
                                                                                                 \
    /* out[:, lo:hi] = X · weight[lo:hi, :]ᵀ (+ bias[lo:hi]) */                                  \
    static void csr_linear_span_##SUFFIX(const void *p, ptrdiff_t lo, ptrdiff_t hi)              \
    {                                                                                            \
        const csr_args_##SUFFIX *a = p;                                                          \
        const T *data = a->data;                                                                 \
        const I *indices = a->indices, *indptr = a->indptr;                                      \
        for (ptrdiff_t first = 0, last; first < a->n_rows; first = last) {                       \
            last = CSR_BLOCK_END(indptr, first, a->n_rows);                                      \
            ptrdiff_t n_lines = (a->n_cols * (ptrdiff_t)sizeof(T) + 63) / 64;                    \
            ptrdiff_t step = (n_lines + (last - first) - 1) / (last - first);                   \
            for (ptrdiff_t o = lo; o < hi; o++) {                                                \
                const T *w = a->dense + o * a->ld_dense;                                         \
                const T *next = o + 1 < hi ? w + a->ld_dense : NULL;                             \
                T start = a->bias ? a->bias[o] : (T)0;                                           \
                for (ptrdiff_t i = first; i < last; i++) {                                       \
                    CSR_PREFETCH_SLICE(next, n_lines, step, i, first, 0);                        \
                    T sum = start;                                                               \
                    for (I k = indptr[i]; k < indptr[i + 1]; k++)                                \
                        sum += data[k] * w[indices[k]];                                          \
                    a->out[i * a->ld_out + o] = sum;                                             \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* weight_grad[lo:hi, :] (+)= grad[:, lo:hi]ᵀ · X */                                         \
    static void csr_weight_grad_span_##SUFFIX(const void *p, ptrdiff_t lo, ptrdiff_t hi)         \
    {                                                                                            \
        const csr_args_##SUFFIX *a = p;                                                          \
        const T *data = a->data;                                                                 \
        const I *indices = a->indices, *indptr = a->indptr;                                      \
        if (!a->accumulate)                                                                      \
            for (ptrdiff_t o = lo; o < hi; o++)                                                  \
                memset(a->out + o * a->ld_out, 0, (size_t)a->n_cols * sizeof(T));               \
        for (ptrdiff_t first = 0, last; first < a->n_rows; first = last) {                       \
            last = CSR_BLOCK_END(indptr, first, a->n_rows);                                      \
            ptrdiff_t n_lines = (a->n_cols * (ptrdiff_t)sizeof(T) + 63) / 64;                    \
            ptrdiff_t step = (n_lines + (last - first) - 1) / (last - first);                   \
            for (ptrdiff_t o = lo; o < hi; o++) {                                                \
                T *dw = a->out + o * a->ld_out;                                                  \
                const T *next = o + 1 < hi ? dw + a->ld_out : NULL;                              \
                for (ptrdiff_t i = first; i < last; i++) {                                       \
                    CSR_PREFETCH_SLICE(next, n_lines, step, i, first, 1);                        \
                    T d = a->dense[i * a->ld_dense + o];                                         \
                    if (d == 0)                                                                  \
                        continue; /* ReLU zeroes many: their rows add nothing */                \
                    for (I k = indptr[i]; k < indptr[i + 1]; k++)                                \
                        dw[indices[k]] += d * data[k];                                           \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    void fastnn_csr_linear_##SUFFIX(ptrdiff_t n_rows, ptrdiff_t n_cols, ptrdiff_t out_features,  \
                                    const T *data, const I *indices, const I *indptr,            \
                                    const T *weight, ptrdiff_t ldw, const T *bias, T *out,       \
                                    ptrdiff_t ldo)                                               \
    {                                                                                            \
        csr_args_##SUFFIX a = {n_rows, n_cols, ldw, ldo, data, weight, bias, indices, indptr,    \
                               out, 0};                                                          \
        ptrdiff_t work = (ptrdiff_t)(indptr[n_rows] - indptr[0]) * out_features;                 \
        fastnn_for_each_span(work, out_features, csr_linear_span_##SUFFIX, &a);                  \
    }                                                                                            \
                                                                                                 \
    void fastnn_csr_weight_grad_##SUFFIX(ptrdiff_t n_rows, ptrdiff_t n_cols,                     \
                                         ptrdiff_t out_features, const T *data, const I *indices, \
                                         const I *indptr, const T *grad, ptrdiff_t lds,          \
                                         T *weight_grad, ptrdiff_t ldw, int accumulate)          \
    {                                                                                            \
        csr_args_##SUFFIX a = {n_rows, n_cols, lds, ldw, data, grad, NULL, indices, indptr,      \
                               weight_grad, accumulate};                                         \
        ptrdiff_t work = (ptrdiff_t)(indptr[n_rows] - indptr[0]) * out_features;                 \
        if (!accumulate)                                                                         \
            work += n_cols * out_features;                                                       \
        fastnn_for_each_span(work, out_features, csr_weight_grad_span_##SUFFIX, &a);             \
    }

DEFINE_CSR(float, int32_t, f32_i32)
DEFINE_CSR(float, int64_t, f32_i64)
DEFINE_CSR(double, int32_t, f64_i32)
DEFINE_CSR(double, int64_t, f64_i64)
