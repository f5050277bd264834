/* The optimizers' row loops (../optim_rows.h) for the architecture's baseline (SSE2 on x86-64). */
#define FASTNN_ISA generic
#include "../optim_rows.h"
