/* The optimizers' row loops (../optim_rows.h) on AVX2 with FMA: 8 floats per instruction. */
#pragma GCC target("avx2,fma")
#define FASTNN_ISA avx2
#include "../optim_rows.h"
