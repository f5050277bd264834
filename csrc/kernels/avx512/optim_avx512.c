/* The optimizers' row loops (../optim_rows.h) on AVX-512: 16 floats per instruction. */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,prefer-vector-width=512")
#define FASTNN_ISA avx512
#include "../optim_rows.h"
