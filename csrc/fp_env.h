/* Denormals flushed to zero inside kernels: a training run whose activations or gradients decay
 * into the subnormal range would otherwise slow down by orders of magnitude. The caller's
 * floating-point state is restored on the way out, per thread. */
#ifndef FASTNN_FP_ENV_H
#define FASTNN_FP_ENV_H

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define FASTNN_MXCSR_FTZ 0x8000u
#define FASTNN_MXCSR_DAZ 0x0040u

static inline unsigned int fastnn_flush_denormals_begin(void)
{
    unsigned int saved = _mm_getcsr();
    _mm_setcsr(saved | FASTNN_MXCSR_FTZ | FASTNN_MXCSR_DAZ);
    return saved;
}

static inline void fastnn_flush_denormals_end(unsigned int saved) { _mm_setcsr(saved); }
#else
static inline unsigned int fastnn_flush_denormals_begin(void) { return 0; }
static inline void fastnn_flush_denormals_end(unsigned int saved) { (void)saved; }
#endif

#endif
