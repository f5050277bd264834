/* The activations' row loops, one source compiled once per instruction set.
 *
 * A file under csrc/kernels/<isa>/ sets its target (#pragma GCC target) and FASTNN_ISA, then
 * includes this: the loops below, over the scalar formulas of activation_math.h, are vectorised by
 * the compiler for that target, and the table fastnn_activations_<isa> registers them in the ISA's
 * context (kernel_context.h). Each loop is instantiated once per activation (the switch sits
 * outside the loop), so every formula is inlined with a constant activation and its selects
 * become blends.
 *
 * `#pragma GCC ivdep`: an output is either its input (in place) or disjoint from it, so no
 * iteration depends on another; without it gcc guards each loop with an overlap test that the
 * in-place case fails, and falls back to scalar code.
 *
 * No trapping math, for these kernels only: with traps honoured gcc keeps ReLU's select (and its
 * derivative times the gradient) as a branch, ~10x slower. Nothing here relies on floating-point
 * traps, and the formulas raise no flag a caller could observe: kernels run with their own MXCSR.
 */
#ifndef FASTNN_ISA
#error "define FASTNN_ISA (the suffix of the kernel set) before including activation_rows.h"
#endif

#pragma GCC optimize("no-trapping-math")

#include "activation_math.h"
#include "kernel_context.h"

#define FASTNN_PASTE_(a, b) a##b
#define FASTNN_PASTE(a, b) FASTNN_PASTE_(a, b)
/* forward_f32_avx512 ...: the ISA in every kernel's name, which is how tools (and
 * tests/test_isa_isolation.py, on a wheel) tell kernel code from framework code. */
#define KERNEL(NAME, SUFFIX) FASTNN_PASTE(NAME##_##SUFFIX##_, FASTNN_ISA)

/* One case per row of the activation table (activation_table.h). */
#define LOOP_CASE(LOOP, NAME, ...)                                                                \
    case FASTNN_ACT_##NAME: LOOP(FASTNN_ACT_##NAME); break;
#define FOR_EACH_ACTIVATION(act, LOOP)                                                            \
    switch ((fastnn_activation)(act).kind) {                                                      \
        FASTNN_ACTIVATION_TABLE(LOOP_CASE, LOOP)                                                  \
    default: LOOP(FASTNN_ACT_IDENTITY); break;                                                    \
    }

/* The derivative reads the output or the input, as the table says, and `saved` is that one; pa
 * and pb are the activation's parameters, converted to T once per call. */
#define FORWARD_LOOP(ACT)                                                                         \
    _Pragma("GCC ivdep") for (ptrdiff_t i = 0; i < n; i++) y[i] = FORWARD(ACT, x[i], pa, pb)
#define BACKWARD_LOOP(ACT)                                                                        \
    _Pragma("GCC ivdep") for (ptrdiff_t i = 0; i < n; i++)                                        \
        grad_input[i] = grad_output[i] * DERIVATIVE(ACT, saved[i], pa, pb)
/* The column-block walk reads each row's block (1 KiB at 256 columns) a row apart: runs too short
 * for the hardware prefetchers, so the rows this far ahead are fetched by hand. */
#define DELTA_PREFETCH_ROWS 4
#define DELTA_ROW_LOOP(ACT)                                                                       \
    _Pragma("GCC ivdep") for (ptrdiff_t j = 0; j < cols; j++) {                                   \
        __typeof__(*d) delta_j = g[j] * DERIVATIVE(ACT, s[j], pa, pb);                            \
        d[j] = delta_j;                                                                           \
        sums[j] += delta_j;                                                                       \
    }
/* One pass over a row of C: v = c (+ bias), kept in pre when asked, then c = act(v). Each
 * combination of bias and pre is its own loop: a test inside would stop the vectoriser. */
#define BIAS_ACTIVATION_LOOP(ACT, VALUE, KEEP)                                                    \
    _Pragma("GCC ivdep") for (ptrdiff_t j = 0; j < cols; j++) {                                   \
        __typeof__(*row) v = VALUE;                                                               \
        KEEP;                                                                                     \
        row[j] = FORWARD(ACT, v, pa, pb);                                                         \
    }
#define WITH_BIAS_AND_PRE(ACT) BIAS_ACTIVATION_LOOP(ACT, row[j] + bias[j], pre_row[j] = v)
#define WITH_BIAS(ACT) BIAS_ACTIVATION_LOOP(ACT, row[j] + bias[j], (void)0)
#define WITH_PRE(ACT) BIAS_ACTIVATION_LOOP(ACT, row[j], pre_row[j] = v)
#define ALONE(ACT) BIAS_ACTIVATION_LOOP(ACT, row[j], (void)0)

#define DEFINE_ACTIVATION_ROWS(T, SUFFIX)                                                         \
    static void KERNEL(bias_activation, SUFFIX)(fastnn_activation_spec act, ptrdiff_t rows,       \
                                                ptrdiff_t cols, const T *bias, T *c,              \
                                                ptrdiff_t ldc, T *pre, ptrdiff_t ld_pre)          \
    {                                                                                             \
        const T pa = (T)act.a, pb = (T)act.b;                                                     \
        for (ptrdiff_t i = 0; i < rows; i++) {                                                    \
            T *row = c + i * ldc, *pre_row = pre ? pre + i * ld_pre : NULL;                       \
            if (bias && pre)                                                                      \
                FOR_EACH_ACTIVATION(act, WITH_BIAS_AND_PRE)                                       \
            else if (bias)                                                                        \
                FOR_EACH_ACTIVATION(act, WITH_BIAS)                                               \
            else if (pre)                                                                         \
                FOR_EACH_ACTIVATION(act, WITH_PRE)                                                \
            else                                                                                  \
                FOR_EACH_ACTIVATION(act, ALONE)                                                   \
        }                                                                                         \
    }                                                                                             \
                                                                                                  \
    static void KERNEL(forward, SUFFIX)(fastnn_activation_spec act, ptrdiff_t n, const T *x,      \
                                        T *y)                                                     \
    {                                                                                             \
        const T pa = (T)act.a, pb = (T)act.b;                                                     \
        FOR_EACH_ACTIVATION(act, FORWARD_LOOP);                                                   \
    }                                                                                             \
                                                                                                  \
    static void KERNEL(backward, SUFFIX)(fastnn_activation_spec act, ptrdiff_t n,                 \
                                         const T *grad_output, const T *saved, T *grad_input)     \
    {                                                                                             \
        const T pa = (T)act.a, pb = (T)act.b;                                                     \
        FOR_EACH_ACTIVATION(act, BACKWARD_LOOP);                                                  \
    }                                                                                             \
                                                                                                  \
    static void KERNEL(delta_and_column_sums, SUFFIX)(                                            \
        fastnn_activation_spec act, ptrdiff_t rows, ptrdiff_t cols, const T *grad_output,         \
        ptrdiff_t ld_grad_output, const T *saved, ptrdiff_t ld_saved, T *delta, ptrdiff_t ld_delta, \
        double *sums)                                                                             \
    {                                                                                             \
        const T pa = (T)act.a, pb = (T)act.b;                                                     \
        for (ptrdiff_t i = 0; i < rows; i++) {                                                    \
            const T *g = grad_output + i * ld_grad_output;                                        \
            if (i + DELTA_PREFETCH_ROWS < rows) {                                                 \
                const char *g_ahead = (const char *)(g + DELTA_PREFETCH_ROWS * ld_grad_output);   \
                const char *s_ahead = delta ? (const char *)(saved + (i + DELTA_PREFETCH_ROWS) *  \
                                                                         ld_saved)                \
                                           : NULL;                                                \
                const char *d_ahead = delta ? (const char *)(delta + (i + DELTA_PREFETCH_ROWS) *  \
                                                                         ld_delta)                \
                                           : NULL;                                                \
                for (ptrdiff_t b = 0; b < cols * (ptrdiff_t)sizeof(T); b += 64) {                 \
                    __builtin_prefetch(g_ahead + b, 0, 3);                                        \
                    if (s_ahead) {                                                                \
                        __builtin_prefetch(s_ahead + b, 0, 3);                                    \
                        __builtin_prefetch(d_ahead + b, 1, 3);                                    \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
            if (delta) {                                                                          \
                const T *s = saved + i * ld_saved;                                                \
                T *d = delta + i * ld_delta;                                                      \
                FOR_EACH_ACTIVATION(act, DELTA_ROW_LOOP);                                         \
            } else {                                                                              \
                for (ptrdiff_t j = 0; j < cols; j++) sums[j] += g[j];                             \
            }                                                                                     \
        }                                                                                         \
    }

#define FORWARD fastnn_act_forward_f32
#define DERIVATIVE fastnn_act_derivative_f32
DEFINE_ACTIVATION_ROWS(float, f32)
#undef FORWARD
#undef DERIVATIVE
#define FORWARD fastnn_act_forward_f64
#define DERIVATIVE fastnn_act_derivative_f64
DEFINE_ACTIVATION_ROWS(double, f64)
#undef FORWARD
#undef DERIVATIVE

const fastnn_activation_kernels FASTNN_PASTE(fastnn_activations_, FASTNN_ISA) = {
    .f32 = {.bias_activation = KERNEL(bias_activation, f32),
            .forward = KERNEL(forward, f32),
            .backward = KERNEL(backward, f32),
            .delta_and_column_sums = KERNEL(delta_and_column_sums, f32)},
    .f64 = {.bias_activation = KERNEL(bias_activation, f64),
            .forward = KERNEL(forward, f64),
            .backward = KERNEL(backward, f64),
            .delta_and_column_sums = KERNEL(delta_and_column_sums, f64)},
};
