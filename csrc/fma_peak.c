/* Times the active instruction set's FMA chains: calibrate the iteration count to the requested
 * duration once, then keep the fastest of several runs, so a late clock ramp only costs the runs
 * it touched. The clock is the thread's CPU time where there is one: on a machine shared with
 * other processes, time spent descheduled is not time the FMA units were busy. */
#include "fma_peak.h"

#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include "fp_env.h"
#include "kernel_context.h"

static const fastnn_fma_peak_kernels *active_kernels(void)
{
    return fastnn_active_context()->fma_peak;
}

#ifdef CLOCK_THREAD_CPUTIME_ID
#define PROBE_CLOCK CLOCK_THREAD_CPUTIME_ID
#else
#define PROBE_CLOCK CLOCK_MONOTONIC
#endif

static int now(double *seconds)
{
    struct timespec t;
    if (clock_gettime(PROBE_CLOCK, &t) != 0)
        return -1;
    *seconds = (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
    return 0;
}

/* Where the chains' checksums go: a volatile store the compiler must keep, and the loop with it. */
volatile double fastnn_fma_peak_sink;

/* Seconds one call of `run` takes. */
static double time_chains(fastnn_fma_chains_fn run, long iterations)
{
    double start, stop;
    if (now(&start) != 0)
        return -1;
    fastnn_fma_peak_sink = run(iterations);
    if (now(&stop) != 0)
        return -1;
    return stop - start;
}

/* GFLOP/s of `run`, each iteration worth flops_per_iteration. */
static double chains_gflops(fastnn_fma_chains_fn run, double flops_per_iteration, double seconds,
                            int runs)
{
    unsigned int saved_fp = fastnn_flush_denormals_begin();
    long iterations = 1024;
    double elapsed;
    /* Doubling until a run lasts a tenth of the target keeps calibration short yet above the
     * clock's resolution. */
    while ((elapsed = time_chains(run, iterations)) >= 0 && elapsed < 0.1 * seconds &&
           iterations < (1L << 40))
        iterations *= 2;
    double best = -1;
    if (elapsed >= 0) {
        if (elapsed > 0)
            iterations = (long)(iterations * (seconds / elapsed)) + 1;
        for (int r = 0; r < (runs > 0 ? runs : 1); r++) {
            elapsed = time_chains(run, iterations);
            if (elapsed < 0) {
                best = -1;
                break;
            }
            double gflops = elapsed > 0 ? flops_per_iteration * (double)iterations / elapsed * 1e-9 : 0;
            if (gflops > best)
                best = gflops;
        }
    }
    fastnn_flush_denormals_end(saved_fp);
    return best;
}

double fastnn_fma_peak_gflops(int is_double, double seconds, int runs)
{
    const fastnn_fma_peak_kernels *kernels = active_kernels();
    return chains_gflops(is_double ? kernels->run_f64 : kernels->run_f32,
                         2.0 * kernels->chains * (is_double ? kernels->lanes_f64 : kernels->lanes_f32),
                         seconds, runs);
}

double fastnn_bf16_peak_gflops(double seconds, int runs)
{
    const fastnn_fma_peak_kernels *kernels = active_kernels();
    if (kernels->run_bf16 == NULL)
        return 0;
    /* each lane: two products and two sums */
    return chains_gflops(kernels->run_bf16, 4.0 * kernels->chains * kernels->lanes_f32, seconds,
                         runs);
}

/* The micro-kernel's operands for ukernel_calls, one set per thread: packed A (MR x KC), packed
 * B (KC x NR) and a tile of C, together within L1 (40 KiB for AVX-512's 8 x 32 at KC = 256). */
static _Thread_local struct {
    const fastnn_sgemm_blocking *blk;
    float *a, *b, *c;
} ukernel_operands;

static double ukernel_calls(long iterations)
{
    const fastnn_sgemm_blocking *blk = ukernel_operands.blk;
    for (long i = 0; i < iterations; i++)
        blk->ukernel(blk->kc, ukernel_operands.a, ukernel_operands.b, blk->nr, ukernel_operands.c,
                     blk->nr, 1.0f, 1.0f);
    return ukernel_operands.c[0];
}

/* Rounds n floats up to whole 64-byte lines, as aligned_alloc asks. */
static float *aligned_floats(size_t n)
{
    return aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
}

double fastnn_sgemm_ukernel_gflops(double seconds, int runs)
{
    const fastnn_sgemm_blocking *blk = fastnn_active_context()->sgemm;
    size_t a_size = (size_t)blk->mr * blk->kc, b_size = (size_t)blk->kc * blk->nr;
    size_t c_size = (size_t)blk->mr * blk->nr;
    float *a = aligned_floats(a_size), *b = aligned_floats(b_size), *c = aligned_floats(c_size);
    double gflops = -1;
    if (a && b && c) {
        /* small values: C grows by at most 24 KC / 2^20 a call, far from overflow in any run */
        for (size_t i = 0; i < a_size; i++) a[i] = (float)(i % 7) * (1.0f / 1024);
        for (size_t i = 0; i < b_size; i++) b[i] = (float)(i % 5) * (1.0f / 1024);
        for (size_t i = 0; i < c_size; i++) c[i] = 0;
        ukernel_operands.blk = blk;
        ukernel_operands.a = a, ukernel_operands.b = b, ukernel_operands.c = c;
        gflops = chains_gflops(ukernel_calls, 2.0 * blk->mr * blk->nr * blk->kc, seconds, runs);
    }
    free(a);
    free(b);
    free(c);
    return gflops;
}

int fastnn_fma_peak_lanes(int is_double)
{
    const fastnn_fma_peak_kernels *kernels = active_kernels();
    return is_double ? kernels->lanes_f64 : kernels->lanes_f32;
}
