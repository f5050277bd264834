/* Which instruction set the kernels use: detected once from CPUID and the OS's saved register
 * state, overridable with FASTNN_ISA=<a name in the registry>. */
#ifndef FASTNN_DISPATCH_H
#define FASTNN_DISPATCH_H

typedef struct {
    char vendor[13];
    char brand[49];
    int sse2, avx, fma, avx2;
    int avx512f, avx512bw, avx512dq, avx512vl, avx512_bf16;
    int os_saves_avx, os_saves_avx512; /* XCR0: the OS preserves YMM / ZMM and mask state */
} fastnn_cpu_features;

const fastnn_cpu_features *fastnn_cpu(void);

/* 1 if this CPU and OS can run the kernels of `isa` (a name in the registry, kernel_context.h),
 * 0 if not, -1 if the name is unknown. */
int fastnn_isa_supported(const char *isa);

/* Chooses the kernels: the best supported when isa is NULL or empty. Returns 0, or -1 for an
 * unknown name, -2 for a set this CPU cannot run; the choice is unchanged on error. */
int fastnn_select_isa(const char *isa);

const char *fastnn_isa_name(void);

/* The registry's i-th name, newest first; NULL past the end. */
const char *fastnn_isa_name_at(int i);

/* The oldest set in the registry whose float32 and float64 kernels `isa` runs: `isa` itself, or
 * the set it is built on (avx512 for avx512_bf16); NULL if the name is unknown. Tests cover each
 * distinct float kernel once by it. */
const char *fastnn_isa_float_kernels_of(const char *isa);

/* Threads for the next call: fastnn_set_num_threads(n > 0) fixes it, n <= 0 follows OpenMP
 * (OMP_NUM_THREADS, threadpoolctl), read at every call. */
int fastnn_get_num_threads(void);
void fastnn_set_num_threads(int n);
int fastnn_has_openmp(void);

#endif
