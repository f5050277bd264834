/* The losses: the one table of their names, codes, target kinds and parameters. C (the enum and
 * the switches of losses.c), Cython and Python (fastnn.functional.LOSS_TABLE, the loss modules)
 * derive from it; adding a loss is a row here and its formula in losses.c.
 *
 * X(ARG, NAME, name, KIND, param, default), in code order:
 *   KIND       ELEMENTWISE: a real target per element, the formula fastnn_<name>_element_<T>
 *              gives one element's loss and slope; CLASS_ROWS: (N, C) scores and an int64 class
 *              index per row, fastnn_<name>_rows_<T>; PROB_ROWS: (N, C) scores and (N, C)
 *              probabilities (cross-entropy's second form, its own function);
 *   param      the parameter's name as PyTorch spells it ("" for none) and its default.
 * Definitions follow PyTorch's. */
#ifndef FASTNN_LOSS_TABLE_H
#define FASTNN_LOSS_TABLE_H

#define FASTNN_LOSS_TABLE(X, ARG)                                                                 \
    X(ARG, MSE, mse, ELEMENTWISE, "", 0)                                                          \
    X(ARG, L1, l1, ELEMENTWISE, "", 0)                                                            \
    X(ARG, HUBER, huber, ELEMENTWISE, "delta", 1.0)                                               \
    X(ARG, BCE_WITH_LOGITS, bce_with_logits, ELEMENTWISE, "", 0)                                  \
    X(ARG, BCE, bce, ELEMENTWISE, "", 0) /* on probabilities, logs clamped at -100 */             \
    X(ARG, HINGE, hinge, ELEMENTWISE, "margin", 1.0) /* targets in {-1, 1} */                     \
    X(ARG, CROSS_ENTROPY, cross_entropy, CLASS_ROWS, "", 0)                                       \
    X(ARG, CROSS_ENTROPY_PROBS, cross_entropy_probs, PROB_ROWS, "", 0)                            \
    X(ARG, NLL, nll, CLASS_ROWS, "", 0) /* on log-probabilities */                                \
    X(ARG, MULTI_MARGIN, multi_margin, CLASS_ROWS, "margin", 1.0)

#define FASTNN_LOSS_ENUM_ENTRY(ARG, NAME, ...) FASTNN_LOSS_##NAME,
typedef enum { FASTNN_LOSS_TABLE(FASTNN_LOSS_ENUM_ENTRY, _) FASTNN_LOSS_COUNT } fastnn_loss;
#undef FASTNN_LOSS_ENUM_ENTRY

enum { FASTNN_LOSS_ELEMENTWISE, FASTNN_LOSS_CLASS_ROWS, FASTNN_LOSS_PROB_ROWS };

/* A row of the table, for Python (fastnn_loss_table in losses.c). */
typedef struct {
    const char *name;
    int kind; /* FASTNN_LOSS_ELEMENTWISE, _CLASS_ROWS or _PROB_ROWS */
    const char *param;
    double default_param;
} fastnn_loss_info;

extern const fastnn_loss_info fastnn_loss_table[FASTNN_LOSS_COUNT];

#endif
