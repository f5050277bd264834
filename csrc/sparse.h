/* Products with a sparse input in CSR form (the first layer of a network fed scipy sparse rows),
 * float and double, 32- or 64-bit indices. The input is never densified: the work is
 * nnz(X) * out_features multiply-adds either way.
 *
 * X is (n_rows, n_cols) in CSR: row i holds values data[indptr[i] .. indptr[i+1]) at columns
 * indices[...]. W is (out_features, n_cols) row-major with row stride ldw, as a Linear stores its
 * weight. The caller has checked indptr (monotonic, within data) and every column index. */
#ifndef FASTNN_SPARSE_H
#define FASTNN_SPARSE_H

#include <stddef.h>
#include <stdint.h>

/* out[i, o] = bias[o] + sum_k X[i, k] W[o, k]   (out is n_rows x out_features, row stride ldo;
 * bias may be NULL). */
#define FASTNN_DECLARE_CSR_FORWARD(T, I, SUFFIX)                                                 \
    void fastnn_csr_linear_##SUFFIX(ptrdiff_t n_rows, ptrdiff_t n_cols, ptrdiff_t out_features,  \
                                    const T *data, const I *indices, const I *indptr,            \
                                    const T *weight, ptrdiff_t ldw, const T *bias, T *out,       \
                                    ptrdiff_t ldo);

/* dW[o, k] (+)= sum_i dS[i, o] X[i, k]   (dW is out_features x n_cols, row stride ldw; dS is
 * n_rows x out_features, row stride lds). accumulate == 0 overwrites dW. */
#define FASTNN_DECLARE_CSR_WEIGHT_GRAD(T, I, SUFFIX)                                             \
    void fastnn_csr_weight_grad_##SUFFIX(ptrdiff_t n_rows, ptrdiff_t n_cols,                     \
                                         ptrdiff_t out_features, const T *data, const I *indices, \
                                         const I *indptr, const T *grad, ptrdiff_t lds,          \
                                         T *weight_grad, ptrdiff_t ldw, int accumulate);

FASTNN_DECLARE_CSR_FORWARD(float, int32_t, f32_i32)
FASTNN_DECLARE_CSR_FORWARD(float, int64_t, f32_i64)
FASTNN_DECLARE_CSR_FORWARD(double, int32_t, f64_i32)
FASTNN_DECLARE_CSR_FORWARD(double, int64_t, f64_i64)
FASTNN_DECLARE_CSR_WEIGHT_GRAD(float, int32_t, f32_i32)
FASTNN_DECLARE_CSR_WEIGHT_GRAD(float, int64_t, f32_i64)
FASTNN_DECLARE_CSR_WEIGHT_GRAD(double, int32_t, f64_i32)
FASTNN_DECLARE_CSR_WEIGHT_GRAD(double, int64_t, f64_i64)

#endif
