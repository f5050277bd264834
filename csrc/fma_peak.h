/* One core's peak rate of fused multiply-adds, measured: the physical limit every GEMM figure is
 * held against. Each instruction set contributes a loop of independent FMA chains on its widest
 * vectors (csrc/kernels/<isa>/fma_peak_<isa>.c); this framework times the active one. */
#ifndef FASTNN_FMA_PEAK_H
#define FASTNN_FMA_PEAK_H

/* Runs `iterations` steps of every chain and returns a checksum of the chains, which the caller
 * must consume so the loop cannot be dropped. */
typedef double (*fastnn_fma_chains_fn)(long iterations);

struct fastnn_fma_peak_kernels {
    int chains;                 /* independent accumulators: enough to hide the FMA latency */
    int lanes_f32, lanes_f64;   /* elements per vector */
    fastnn_fma_chains_fn run_f32, run_f64;
    /* Where the ISA has bf16 dot products (VDPBF16PS): chains of those, each instruction
     * 2 * lanes_f32 multiply-adds; NULL elsewhere. */
    fastnn_fma_chains_fn run_bf16;
};
typedef struct fastnn_fma_peak_kernels fastnn_fma_peak_kernels;

/* The probe's loop, written once for every ISA: CHAINS accumulators of vector type VEC, each
 * stepped acc = acc * scale + shift with FMADD(a, b, c) = a * b + c. That recurrence converges to
 * shift / (1 - scale), so it neither overflows nor decays into denormals however long it runs,
 * and no step depends on another chain. */
#define FASTNN_DEFINE_FMA_CHAINS(NAME, CHAINS, VEC, T, SET1, FMADD, REDUCE)                     \
    static double NAME(long iterations)                                                         \
    {                                                                                           \
        VEC acc[CHAINS];                                                                        \
        VEC scale = SET1((T)0.999999), shift = SET1((T)1e-6);                                  \
        _Pragma("GCC unroll 32") for (int c = 0; c < CHAINS; c++) acc[c] = SET1((T)c);          \
        for (long i = 0; i < iterations; i++) {                                                 \
            _Pragma("GCC unroll 32") for (int c = 0; c < CHAINS; c++)                           \
                acc[c] = FMADD(acc[c], scale, shift);                                           \
        }                                                                                       \
        double sum = 0;                                                                         \
        for (int c = 0; c < CHAINS; c++) sum += REDUCE(acc[c]);                                 \
        return sum;                                                                             \
    }

/* GFLOP/s (a multiply-add counts two) of the active ISA's chains on the calling thread: the best
 * of `runs` runs of at least `seconds` each. Returns a negative value if the clock fails. */
double fastnn_fma_peak_gflops(int is_double, double seconds, int runs);

/* The same for the active ISA's bf16 dot-product chains, counting a pair's two multiply-adds as
 * four FLOPs; returns 0 where the ISA has none. */
double fastnn_bf16_peak_gflops(double seconds, int runs);

/* GFLOP/s of the active ISA's float32 GEMM micro-kernel alone (the blocking's MR x NR tile over
 * KC steps, C = A B + C) on packed panels that stay in L1, the best of `runs` runs of `seconds`
 * each: the ceiling of every product, which also packs, moves blocks through the caches and
 * handles edges. Returns a negative value if the clock fails or the panels cannot be allocated. */
double fastnn_sgemm_ukernel_gflops(double seconds, int runs);

/* Elements per vector the active ISA's probe uses. */
int fastnn_fma_peak_lanes(int is_double);

#endif
