/* Optimizer updates, in place on one parameter tensor of n contiguous elements, float and double.
 *
 * The formulas are PyTorch's (torch.optim.SGD, Adam, AdamW), plus an L1 penalty for SGD. The
 * Python optimizer keeps the state buffers and the step count; these only apply one step.
 */
#ifndef FASTNN_OPTIM_H
#define FASTNN_OPTIM_H

#include <stddef.h>

/* g = grad + weight_decay * w + l1 * sign(w);
 * with momentum: buf = g on the first step, else buf = momentum * buf + (1 - dampening) * g,
 *                and g = g + momentum * buf (nesterov) or g = buf;
 * w -= lr * g. */
typedef struct {
    double lr, momentum, dampening, weight_decay, l1;
    int nesterov;
    int first_step; /* the momentum buffer holds nothing yet: it is set to g, as torch does */
} fastnn_sgd_hyper;

/* momentum_buffer is NULL when momentum == 0. */
void fastnn_sgd_step_f32(ptrdiff_t n, float *param, const float *grad, float *momentum_buffer,
                         const fastnn_sgd_hyper *hyper);
void fastnn_sgd_step_f64(ptrdiff_t n, double *param, const double *grad, double *momentum_buffer,
                         const fastnn_sgd_hyper *hyper);

/* step counts from 1. Adam adds weight_decay * w to the gradient; AdamW (decoupled) first
 * shrinks w by (1 - lr * weight_decay). Then
 *   m += (1 - beta1) (g - m);  v = beta2 v + (1 - beta2) g^2;  (amsgrad: v_max = max(v_max, v))
 *   w -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps). */
typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    long long step;
    int decoupled_weight_decay;
} fastnn_adam_hyper;

/* max_exp_avg_sq is NULL unless amsgrad. */
void fastnn_adam_step_f32(ptrdiff_t n, float *param, const float *grad, float *exp_avg,
                          float *exp_avg_sq, float *max_exp_avg_sq, const fastnn_adam_hyper *hyper);
void fastnn_adam_step_f64(ptrdiff_t n, double *param, const double *grad, double *exp_avg,
                          double *exp_avg_sq, double *max_exp_avg_sq, const fastnn_adam_hyper *hyper);

#endif
