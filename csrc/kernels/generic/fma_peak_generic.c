/* The portable peak probe: the multiply-add the generic GEMM kernels compile to. The baseline has
 * no FMA, so on x86-64 this is a multiply then an add on 128-bit SSE2 vectors (GCC's vector
 * extensions, which need no ISA flag); 12 chains keep 12 of the 16 xmm registers busy. */
#include "fma_peak.h"

#define CHAINS 12
#define VECTOR_BYTES 16

typedef float vector_f32 __attribute__((vector_size(VECTOR_BYTES)));
typedef double vector_f64 __attribute__((vector_size(VECTOR_BYTES)));

#define SET1_F32(x) ((vector_f32){0} + (x))
#define SET1_F64(x) ((vector_f64){0} + (x))
#define MULADD(a, b, c) ((a) * (b) + (c))

static double sum_f32(vector_f32 v)
{
    double sum = 0;
    for (int i = 0; i < (int)(VECTOR_BYTES / sizeof(float)); i++) sum += v[i];
    return sum;
}

static double sum_f64(vector_f64 v) { return v[0] + v[1]; }

FASTNN_DEFINE_FMA_CHAINS(muladd_chains_generic_f32, CHAINS, vector_f32, float, SET1_F32, MULADD,
                         sum_f32)
FASTNN_DEFINE_FMA_CHAINS(muladd_chains_generic_f64, CHAINS, vector_f64, double, SET1_F64, MULADD,
                         sum_f64)

const fastnn_fma_peak_kernels fastnn_fma_peak_generic = {
    .chains = CHAINS, .lanes_f32 = VECTOR_BYTES / sizeof(float),
    .lanes_f64 = VECTOR_BYTES / sizeof(double),
    .run_f32 = muladd_chains_generic_f32, .run_f64 = muladd_chains_generic_f64,
};
