/* The activations' row loops (../activation_rows.h) for the architecture's baseline (SSE2 on
 * x86-64): 4 floats per instruction. */
#define FASTNN_ISA generic
#include "../activation_rows.h"
