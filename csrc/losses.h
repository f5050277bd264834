/* The losses, each one fused pass over its inputs: the per-sample losses, their sum (in double)
 * and, where asked, the gradient with respect to the prediction.
 *
 * Every loss function returns the sum of the per-sample losses. Where `grad` is not NULL it
 * receives grad_scale * d(loss_i)/d(input) (so 1/N for a mean); where `losses` is not NULL it
 * receives each sample's loss (each element's, for the elementwise losses). Arrays are contiguous;
 * class indices have been checked with fastnn_first_invalid_class first. NaN and Inf in the
 * inputs propagate to the results. Definitions follow PyTorch's. */
#ifndef FASTNN_LOSSES_H
#define FASTNN_LOSSES_H

#include <stddef.h>
#include <stdint.h>

#include "loss_table.h"

/* The first i with target[i] outside [0, classes), or -1. */
ptrdiff_t fastnn_first_invalid_class(ptrdiff_t n, const int64_t *target, int64_t classes);

#define FASTNN_DECLARE_LOSSES(T, SUFFIX)                                                          \
    /* The first i with target[i] neither -1 nor 1, or -1. */                                     \
    ptrdiff_t fastnn_first_invalid_sign_##SUFFIX(ptrdiff_t n, const T *target);                   \
    /* An ELEMENTWISE loss of the table over n elements, with its parameter. */                   \
    double fastnn_elementwise_loss_##SUFFIX(int loss_code, double param, ptrdiff_t n,             \
                                            const T *input, const T *target, T *grad,             \
                                            double grad_scale,                                    \
                                            T *losses);                                           \
    /* A CLASS_ROWS loss of the table over rows x cols scores, with its parameter. */             \
    double fastnn_class_loss_##SUFFIX(int loss_code, double param, ptrdiff_t rows,                \
                                      ptrdiff_t cols,                                             \
                                      const T *scores, const int64_t *target, T *grad,            \
                                      double grad_scale, T *losses);                              \
    /* -sum_j target_ij * log_softmax(logits_i)_j, target rows x cols probabilities. */           \
    double fastnn_cross_entropy_probs_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *logits,   \
                                               const T *target, T *grad, double grad_scale,       \
                                               T *losses);

FASTNN_DECLARE_LOSSES(float, f32)
FASTNN_DECLARE_LOSSES(double, f64)

#undef FASTNN_DECLARE_LOSSES

#endif
