/* The activations: the one table of their names, codes, parameters and what their derivative
 * reads. C (the enum, every kernel's switch), Cython and Python (fastnn.functional.ACTIVATIONS and
 * the modules of fastnn.nn) all derive from it; adding an activation is a row here and its two
 * formulas in activation_math.h.
 *
 * X(ARG, NAME, name, FROM, param_a, default_a, param_b, default_b) for each activation, in code
 * order (the code is the row's index):
 *   name      the Python name (fastnn.functional.ACTIVATIONS), and fastnn_<name>_forward_<T> /
 *             fastnn_<name>_derivative_<T> the formulas in activation_math.h;
 *   FROM      OUTPUT or INPUT: what the derivative is computed from, so what backward keeps
 *             (the forward output costs nothing more; the input is a second array);
 *   param_*   the parameters' names as PyTorch spells them ("" for none) and their defaults.
 * ARG is passed through untouched, for expansions that need one more name (a type suffix). */
#ifndef FASTNN_ACTIVATION_TABLE_H
#define FASTNN_ACTIVATION_TABLE_H

#define FASTNN_ACTIVATION_TABLE(X, ARG)                                                           \
    X(ARG, IDENTITY, identity, OUTPUT, "", 0, "", 0)                                              \
    X(ARG, RELU, relu, OUTPUT, "", 0, "", 0)                                                      \
    X(ARG, TANH, tanh, OUTPUT, "", 0, "", 0)                                                      \
    X(ARG, SIGMOID, sigmoid, OUTPUT, "", 0, "", 0)                                                \
    X(ARG, GELU, gelu, INPUT, "", 0, "", 0)           /* exact: s * Phi(s) */                     \
    X(ARG, GELU_TANH, gelu_tanh, INPUT, "", 0, "", 0) /* PyTorch's approximate="tanh" */          \
    /* the slope below 0 must be >= 0, or y > 0 would not tell which side s was on */             \
    X(ARG, LEAKY_RELU, leaky_relu, OUTPUT, "negative_slope", 0.01, "", 0)                         \
    X(ARG, ELU, elu, OUTPUT, "alpha", 1.0, "", 0) /* alpha >= 0, for the same reason */           \
    X(ARG, SILU, silu, INPUT, "", 0, "", 0)                                                       \
    X(ARG, SOFTPLUS, softplus, INPUT, "beta", 1.0, "threshold", 20.0)

#define FASTNN_ACTIVATION_ENUM_ENTRY(ARG, NAME, ...) FASTNN_ACT_##NAME,
typedef enum {
    FASTNN_ACTIVATION_TABLE(FASTNN_ACTIVATION_ENUM_ENTRY, _)
    FASTNN_ACT_COUNT
} fastnn_activation;
#undef FASTNN_ACTIVATION_ENUM_ENTRY

/* An activation and its parameters, as the kernels receive it. */
typedef struct {
    int kind;      /* a fastnn_activation */
    double a, b;   /* param_a and param_b of the table (0 where unused) */
} fastnn_activation_spec;

/* A row of the table, for Python (fastnn_activation_table in activations.c). */
typedef struct {
    const char *name;
    int derivative_from_input;
    const char *param_a;
    double default_a;
    const char *param_b;
    double default_b;
} fastnn_activation_info;

extern const fastnn_activation_info fastnn_activation_table[FASTNN_ACT_COUNT];

#endif
