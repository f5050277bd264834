/* The adaptive-rate optimizers' updates, in place on n contiguous elements, float and double:
 * torch.optim.RMSprop and torch.optim.Adagrad's formulas. As in optim.h, the Python optimizer
 * keeps the state buffers and the step count; these apply one step.
 */
#ifndef FASTNN_OPTIM_ADAPTIVE_H
#define FASTNN_OPTIM_ADAPTIVE_H

#include <stddef.h>

/* g = grad + weight_decay w;  s = alpha s + (1 - alpha) g^2;
 * centered: a = alpha a + (1 - alpha) g, d = sqrt(s - a^2) + eps; else d = sqrt(s) + eps;
 * momentum > 0: b = momentum b + g / d, w -= lr b; else w -= lr g / d. */
typedef struct {
    double lr, alpha, eps, weight_decay, momentum;
} fastnn_rmsprop_hyper;

/* grad_avg is NULL unless centered, momentum_buffer NULL unless momentum > 0. */
void fastnn_rmsprop_step_f32(ptrdiff_t n, float *param, const float *grad, float *square_avg,
                             float *grad_avg, float *momentum_buffer,
                             const fastnn_rmsprop_hyper *hyper);
void fastnn_rmsprop_step_f64(ptrdiff_t n, double *param, const double *grad, double *square_avg,
                             double *grad_avg, double *momentum_buffer,
                             const fastnn_rmsprop_hyper *hyper);

/* step counts from 1: g = grad + weight_decay w;  sum += g^2;
 * w -= lr / (1 + (step - 1) lr_decay) * g / (sqrt(sum) + eps). */
typedef struct {
    double lr, lr_decay, eps, weight_decay;
    long long step;
} fastnn_adagrad_hyper;

void fastnn_adagrad_step_f32(ptrdiff_t n, float *param, const float *grad, float *sum,
                             const fastnn_adagrad_hyper *hyper);
void fastnn_adagrad_step_f64(ptrdiff_t n, double *param, const double *grad, double *sum,
                             const fastnn_adagrad_hyper *hyper);

#endif
