#include "ukernel_test.h"

#include <string.h>

#include "fp_env.h"
#include "kernel_context.h"

static const fastnn_isa_entry *runnable_entry(const char *isa, int *status)
{
    for (int i = 0; i < fastnn_isa_registry_size; i++)
        if (strcmp(isa, fastnn_isa_registry[i].name) == 0) {
            *status = fastnn_isa_registry[i].cpu_runs() ? 0 : -2;
            return *status == 0 ? &fastnn_isa_registry[i] : NULL;
        }
    *status = -1;
    return NULL;
}

int fastnn_ukernel_shape(const char *isa, int kind, int *mr, int *nr)
{
    const fastnn_isa_entry *entry = NULL;
    for (int i = 0; i < fastnn_isa_registry_size; i++)
        if (strcmp(isa, fastnn_isa_registry[i].name) == 0)
            entry = &fastnn_isa_registry[i];
    if (entry == NULL)
        return -1;
    const fastnn_kernel_context *ctx = entry->context;
    switch (kind) {
    case FASTNN_UKERNEL_SGEMM: *mr = ctx->sgemm->mr, *nr = ctx->sgemm->nr; break;
    case FASTNN_UKERNEL_DGEMM: *mr = ctx->dgemm->mr, *nr = ctx->dgemm->nr; break;
    case FASTNN_UKERNEL_BF16GEMM:
        if (ctx->bf16gemm == NULL) return -2;
        *mr = ctx->bf16gemm->mr, *nr = ctx->bf16gemm->nr;
        break;
    case FASTNN_UKERNEL_SGEMM_DOT:
        if (ctx->sgemm->dot_ukernel == NULL) return -2;
        *mr = ctx->sgemm->dot_mr, *nr = ctx->sgemm->dot_nr;
        break;
    case FASTNN_UKERNEL_DGEMM_DOT:
        if (ctx->dgemm->dot_ukernel == NULL) return -2;
        *mr = ctx->dgemm->dot_mr, *nr = ctx->dgemm->dot_nr;
        break;
    case FASTNN_UKERNEL_BF16GEMM_DOT:
        if (ctx->bf16gemm == NULL || ctx->bf16gemm->dot_ukernel == NULL) return -2;
        *mr = ctx->bf16gemm->dot_mr, *nr = ctx->bf16gemm->dot_nr;
        break;
    case FASTNN_UKERNEL_BF16GEMM_NARROW:
        if (ctx->bf16gemm == NULL || ctx->bf16gemm->narrow == NULL) return -2;
        *mr = ctx->bf16gemm->narrow->mr, *nr = ctx->bf16gemm->narrow->nr;
        break;
    case FASTNN_UKERNEL_BF16GEMM_FETCHING:
    case FASTNN_UKERNEL_BF16GEMM_NARROW_FETCHING: {
        const fastnn_bf16gemm_blocking *blk = ctx->bf16gemm;
        if (blk && kind == FASTNN_UKERNEL_BF16GEMM_NARROW_FETCHING)
            blk = blk->narrow;
        if (blk == NULL || blk->ukernel_fetching == NULL) return -2;
        *mr = blk->mr, *nr = blk->nr;
        break;
    }
    case FASTNN_UKERNEL_SGEMM_HALF:
        if (ctx->sgemm->half_ukernel == NULL) return -2;
        *mr = ctx->sgemm->mr, *nr = ctx->sgemm->nr / 2;
        break;
    case FASTNN_UKERNEL_DGEMM_HALF:
        if (ctx->dgemm->half_ukernel == NULL) return -2;
        *mr = ctx->dgemm->mr, *nr = ctx->dgemm->nr / 2;
        break;
    case FASTNN_UKERNEL_SGEMM_DOT_WIDE:
        if (ctx->sgemm->dot_wide_ukernel == NULL) return -2;
        *mr = ctx->sgemm->dot_wide_mr, *nr = ctx->sgemm->dot_wide_nr;
        break;
    case FASTNN_UKERNEL_SGEMM_PACKING_B:
        if (ctx->sgemm->ukernel_packing_b == NULL) return -2;
        *mr = ctx->sgemm->mr, *nr = ctx->sgemm->nr;
        break;
    default: return -2;
    }
    return 0;
}

int fastnn_ukernel_run(const char *isa, int kind, ptrdiff_t k, const void *a, ptrdiff_t lda,
                       ptrdiff_t rows, const void *b, ptrdiff_t ldb, ptrdiff_t cols, void *c,
                       ptrdiff_t ldc, double alpha, double beta, long repeats)
{
    int status, mr, nr;
    const fastnn_isa_entry *entry = runnable_entry(isa, &status);
    if (entry == NULL)
        return status;
    if ((status = fastnn_ukernel_shape(isa, kind, &mr, &nr)) != 0)
        return status;
    const fastnn_kernel_context *ctx = entry->context;
    unsigned int fp_state = fastnn_flush_denormals_begin();
    for (long r = 0; r < repeats; r++) {
        switch (kind) {
        case FASTNN_UKERNEL_SGEMM:
            ctx->sgemm->ukernel(k, a, b, ldb, c, ldc, (float)alpha, (float)beta);
            break;
        case FASTNN_UKERNEL_DGEMM:
            ctx->dgemm->ukernel(k, a, b, ldb, c, ldc, alpha, beta);
            break;
        case FASTNN_UKERNEL_SGEMM_HALF:
            ctx->sgemm->half_ukernel(k, a, b, ldb, c, ldc, (float)alpha, (float)beta);
            break;
        case FASTNN_UKERNEL_DGEMM_HALF:
            ctx->dgemm->half_ukernel(k, a, b, ldb, c, ldc, alpha, beta);
            break;
        case FASTNN_UKERNEL_SGEMM_PACKING_B: /* copying nothing (fastnn_packing_ukernel_run copies) */
            ctx->sgemm->ukernel_packing_b(k, a, b, c, ldc, (float)alpha, (float)beta, NULL, 0,
                                          NULL, 0);
            break;
        case FASTNN_UKERNEL_BF16GEMM:
            ctx->bf16gemm->ukernel(k, a, b, ldb, c, ldc, (float)alpha, (float)beta);
            break;
        case FASTNN_UKERNEL_SGEMM_DOT:
            ctx->sgemm->dot_ukernel(k, a, lda, rows, b, ldb, cols, c, ldc, (float)alpha,
                                    (float)beta);
            break;
        case FASTNN_UKERNEL_SGEMM_DOT_WIDE:
            ctx->sgemm->dot_wide_ukernel(k, a, lda, rows, b, ldb, cols, c, ldc, (float)alpha,
                                         (float)beta);
            break;
        case FASTNN_UKERNEL_DGEMM_DOT:
            ctx->dgemm->dot_ukernel(k, a, lda, rows, b, ldb, cols, c, ldc, alpha, beta);
            break;
        case FASTNN_UKERNEL_BF16GEMM_DOT:
            ctx->bf16gemm->dot_ukernel(k, a, lda, rows, b, ldb, cols, c, ldc, (float)alpha,
                                       (float)beta);
            break;
        case FASTNN_UKERNEL_BF16GEMM_NARROW:
            ctx->bf16gemm->narrow->ukernel(k, a, b, ldb, c, ldc, (float)alpha, (float)beta);
            break;
        case FASTNN_UKERNEL_BF16GEMM_FETCHING:
        case FASTNN_UKERNEL_BF16GEMM_NARROW_FETCHING: {
            /* the kernel fetches the lines of its own panels (any valid memory would do) */
            const fastnn_bf16gemm_blocking *blk = kind == FASTNN_UKERNEL_BF16GEMM_FETCHING
                                                      ? ctx->bf16gemm : ctx->bf16gemm->narrow;
            ptrdiff_t steps = k + (k & 1);
            fastnn_fetch_lines ahead[2] = {
                {a, 64, 1, 0, steps * mr * (ptrdiff_t)sizeof(fastnn_bf16) / 64},
                {b, 128, 2, 0, steps * nr * (ptrdiff_t)sizeof(fastnn_bf16) / 64},
            };
            blk->ukernel_fetching(k, a, b, c, ldc, (float)alpha, (float)beta, ahead);
            break;
        }
        }
    }
    fastnn_flush_denormals_end(fp_state);
    return 0;
}

int fastnn_packing_ukernel_run(const char *isa, ptrdiff_t k, const float *a, const float *b,
                               float *c, ptrdiff_t ldc, double alpha, double beta,
                               const float *src, ptrdiff_t ld_src, float *dst,
                               ptrdiff_t copy_rows)
{
    int status, mr, nr;
    const fastnn_isa_entry *entry = runnable_entry(isa, &status);
    if (entry == NULL)
        return status;
    if ((status = fastnn_ukernel_shape(isa, FASTNN_UKERNEL_SGEMM_PACKING_B, &mr, &nr)) != 0)
        return status;
    unsigned int fp_state = fastnn_flush_denormals_begin();
    entry->context->sgemm->ukernel_packing_b(k, a, b, c, ldc, (float)alpha, (float)beta, src,
                                             ld_src, dst, copy_rows);
    fastnn_flush_denormals_end(fp_state);
    return 0;
}

int fastnn_bf16_pack_run(const char *isa, int interleaved, int from_bf16, ptrdiff_t kc,
                         const void *src, ptrdiff_t ld, int w, ptrdiff_t panels, void *dst)
{
    int status;
    const fastnn_isa_entry *entry = runnable_entry(isa, &status);
    if (entry == NULL)
        return status;
    const fastnn_bf16gemm_blocking *blk = entry->context->bf16gemm;
    if (blk == NULL)
        return -2;
    if (from_bf16) {
        fastnn_bf16_pack_from_bf16 pack = interleaved ? blk->pack_interleaved_from_bf16
                                                      : blk->pack_transposed_from_bf16;
        if (pack == NULL)
            return -2;
        pack(kc, src, ld, w, panels, dst);
        return 0;
    }
    fastnn_bf16_pack pack = interleaved ? blk->pack_interleaved : blk->pack_transposed;
    if (pack == NULL)
        return -2;
    pack(kc, src, ld, w, panels, dst);
    return 0;
}

int fastnn_float_pack_run(const char *isa, int f64, int transposed, ptrdiff_t kc, const void *src,
                          ptrdiff_t ld, int w, ptrdiff_t panels, void *dst)
{
    int status;
    const fastnn_isa_entry *entry = runnable_entry(isa, &status);
    if (entry == NULL)
        return status;
    size_t size = f64 ? sizeof(double) : sizeof(float);
    if (!transposed) {
        fastnn_pack_copy copy = f64 ? entry->context->dgemm->pack_copy
                                    : entry->context->sgemm->pack_copy;
        copy(kc, src, ld * (ptrdiff_t)size, w * (int)size, panels, dst);
        return 0;
    }
    if (f64 ? entry->context->dgemm->pack_transposed == NULL
            : entry->context->sgemm->pack_transposed == NULL)
        return -2;
    for (ptrdiff_t i = 0; i < panels; i++) {
        if (f64)
            entry->context->dgemm->pack_transposed(kc, (const double *)src + i * w * ld, ld, w,
                                                   (double *)dst + i * w * kc);
        else
            entry->context->sgemm->pack_transposed(kc, (const float *)src + i * w * ld, ld, w,
                                                   (float *)dst + i * w * kc);
    }
    return 0;
}
