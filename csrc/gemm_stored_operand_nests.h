/* The three loop nests of a bf16 product whose operands, one or both, are stored in bf16
 * (fastnn_bf16) rather than float32: included by gemm.c once for the AVX512-BF16 path and once
 * for the float32 fallback, with that path's parameters of gemm_loop_nest.h defined and
 * STORED_NEST_NAME(x, pair) naming each nest from x and its pair of operand types. */
#define TA fastnn_bf16
#define TB fastnn_bf16
#define NAME(x) STORED_NEST_NAME(x, _from_bf16_bf16)
#include "gemm_loop_nest.h"
#undef NAME
#undef TB
#define NAME(x) STORED_NEST_NAME(x, _from_bf16_f32)
#include "gemm_loop_nest.h"
#undef NAME
#undef TA
#define TB fastnn_bf16
#define NAME(x) STORED_NEST_NAME(x, _from_f32_bf16)
#include "gemm_loop_nest.h"
#undef NAME
#undef TB
