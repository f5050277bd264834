#include "dispatch.h"

#include <string.h>

#include "gemv.h"
#include "kernel_context.h"
#include "optim_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define FASTNN_X86 1
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

static fastnn_cpu_features cpu;
static int cpu_detected;

#ifdef FASTNN_X86
static unsigned long long read_xcr0(void)
{
    unsigned int eax, edx;
    /* xgetbv by its encoding, so the baseline build needs no -mxsave */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static void detect(fastnn_cpu_features *f)
{
    unsigned int a, b, c, d;
    memset(f, 0, sizeof *f);
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return;
    unsigned int max_leaf = a;
    memcpy(f->vendor, &b, 4);
    memcpy(f->vendor + 4, &d, 4);
    memcpy(f->vendor + 8, &c, 4);

    __cpuid(1, a, b, c, d);
    f->sse2 = (d >> 26) & 1;
    f->fma = (c >> 12) & 1;
    int osxsave = (c >> 27) & 1;
    f->avx = (c >> 28) & 1;
    if (osxsave) {
        unsigned long long xcr0 = read_xcr0();
        f->os_saves_avx = (xcr0 & 0x6) == 0x6;       /* XMM and YMM */
        f->os_saves_avx512 = (xcr0 & 0xe6) == 0xe6;  /* and opmask, ZMM_Hi256, Hi16_ZMM */
    }
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        f->avx2 = (b >> 5) & 1;
        f->avx512f = (b >> 16) & 1;
        f->avx512dq = (b >> 17) & 1;
        f->avx512bw = (b >> 30) & 1;
        f->avx512vl = (b >> 31) & 1;
        __cpuid_count(7, 1, a, b, c, d);
        f->avx512_bf16 = (a >> 5) & 1;
    }
    if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
        unsigned int *brand = (unsigned int *)f->brand;
        for (unsigned int leaf = 0; leaf < 3; leaf++)
            __cpuid(0x80000002 + leaf, brand[4 * leaf], brand[4 * leaf + 1],
                    brand[4 * leaf + 2], brand[4 * leaf + 3]);
        f->brand[48] = '\0';
    }
}
#else
static void detect(fastnn_cpu_features *f) { memset(f, 0, sizeof *f); }
#endif

const fastnn_cpu_features *fastnn_cpu(void)
{
    if (!cpu_detected) {
        detect(&cpu);
        cpu_detected = 1;
    }
    return &cpu;
}

/* What each kernel set needs of the CPU and the OS. */
static int runs_avx2(void)
{
    const fastnn_cpu_features *f = fastnn_cpu();
    return f->avx2 && f->fma && f->avx && f->os_saves_avx;
}

static int runs_avx512(void)
{
    const fastnn_cpu_features *f = fastnn_cpu();
    return f->avx512f && f->avx512bw && f->avx512dq && f->avx512vl && f->fma && f->os_saves_avx512;
}

static int runs_avx512_bf16(void) { return runs_avx512() && fastnn_cpu()->avx512_bf16; }

static int runs_anywhere(void) { return 1; }

/* A set built on another shares that one's kernels and adds its own: avx512_bf16 is avx512 plus
 * bf16 products. A set without a kernel of its own names the generic one; only .gemv may be
 * NULL (the GEMM then serves batch 1). */
static const fastnn_kernel_context avx512_bf16 = {
    .name = "avx512_bf16", .sgemm = &fastnn_sgemm_avx512, .dgemm = &fastnn_dgemm_avx512,
    .bf16gemm = &fastnn_bf16gemm_avx512_bf16, .activations = &fastnn_activations_avx512,
    .gemv = &fastnn_gemv_avx512, .optim = &fastnn_optim_avx512,
    .conv_gather = &fastnn_conv_gather_avx512, .conv_rows = &fastnn_conv_rows_avx512,
    .fma_peak = &fastnn_fma_peak_avx512_bf16, .stream_probe = &fastnn_stream_probe_avx512};
static const fastnn_kernel_context avx512 = {
    .name = "avx512", .sgemm = &fastnn_sgemm_avx512, .dgemm = &fastnn_dgemm_avx512,
    .activations = &fastnn_activations_avx512, .gemv = &fastnn_gemv_avx512,
    .optim = &fastnn_optim_avx512, .conv_gather = &fastnn_conv_gather_avx512,
    .conv_rows = &fastnn_conv_rows_avx512,
    .fma_peak = &fastnn_fma_peak_avx512, .stream_probe = &fastnn_stream_probe_avx512};
static const fastnn_kernel_context avx2 = {
    .name = "avx2", .sgemm = &fastnn_sgemm_avx2, .dgemm = &fastnn_dgemm_avx2,
    .activations = &fastnn_activations_avx2, .gemv = &fastnn_gemv_avx2,
    .optim = &fastnn_optim_avx2, .conv_gather = &fastnn_conv_gather_avx2,
    .conv_rows = &fastnn_conv_rows_avx2,
    .fma_peak = &fastnn_fma_peak_avx2, .stream_probe = &fastnn_stream_probe_avx2};
static const fastnn_kernel_context generic = {
    .name = "generic", .sgemm = &fastnn_sgemm_generic, .dgemm = &fastnn_dgemm_generic,
    .activations = &fastnn_activations_generic, .gemv = NULL, .optim = &fastnn_optim_generic,
    .conv_gather = &fastnn_conv_gather_generic, .conv_rows = &fastnn_conv_rows_generic,
    .fma_peak = &fastnn_fma_peak_generic, .stream_probe = &fastnn_stream_probe_generic};

/* The kernel sets, newest first: the first this CPU runs is the default. */
const fastnn_isa_entry fastnn_isa_registry[] = {
    {"avx512_bf16", runs_avx512_bf16, &avx512_bf16},
    {"avx512", runs_avx512, &avx512},
    {"avx2", runs_avx2, &avx2},
    {"generic", runs_anywhere, &generic},
};
const int fastnn_isa_registry_size = sizeof fastnn_isa_registry / sizeof fastnn_isa_registry[0];

static const fastnn_kernel_context *active = &generic;

static const fastnn_isa_entry *entry_named(const char *isa)
{
    for (int i = 0; i < fastnn_isa_registry_size; i++)
        if (strcmp(isa, fastnn_isa_registry[i].name) == 0)
            return &fastnn_isa_registry[i];
    return NULL;
}

int fastnn_isa_supported(const char *isa)
{
    const fastnn_isa_entry *entry = entry_named(isa);
    return entry == NULL ? -1 : entry->cpu_runs();
}

int fastnn_select_isa(const char *isa)
{
    if (isa == NULL || isa[0] == '\0') {
        for (int i = 0; i < fastnn_isa_registry_size; i++)
            if (fastnn_isa_registry[i].cpu_runs())
                return fastnn_select_isa(fastnn_isa_registry[i].name);
        return -2;
    }
    const fastnn_isa_entry *entry = entry_named(isa);
    if (entry == NULL)
        return -1;
    if (!entry->cpu_runs())
        return -2;
    active = entry->context;
    return 0;
}

const char *fastnn_isa_name_at(int i)
{
    return i >= 0 && i < fastnn_isa_registry_size ? fastnn_isa_registry[i].name : NULL;
}

const char *fastnn_isa_name(void) { return active->name; }

const fastnn_kernel_context *fastnn_active_context(void) { return active; }

/* Whether two sets run the same float32 and float64 kernels (bf16 products and the peak probe
 * aside). */
static int same_float_kernels(const fastnn_kernel_context *a, const fastnn_kernel_context *b)
{
    return a->sgemm == b->sgemm && a->dgemm == b->dgemm && a->activations == b->activations &&
           a->gemv == b->gemv && a->optim == b->optim && a->conv_gather == b->conv_gather &&
           a->conv_rows == b->conv_rows;
}

const char *fastnn_isa_float_kernels_of(const char *isa)
{
    const fastnn_isa_entry *entry = entry_named(isa);
    if (entry == NULL)
        return NULL;
    for (int i = fastnn_isa_registry_size - 1; i >= 0; i--)
        if (same_float_kernels(fastnn_isa_registry[i].context, entry->context))
            return fastnn_isa_registry[i].name;
    return entry->name;
}

static int requested_threads; /* 0: follow OpenMP */

int fastnn_get_num_threads(void)
{
#ifdef _OPENMP
    return requested_threads > 0 ? requested_threads : omp_get_max_threads();
#else
    return 1;
#endif
}

void fastnn_set_num_threads(int n) { requested_threads = n > 0 ? n : 0; }

int fastnn_has_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}
