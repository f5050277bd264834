/* Each kernel set's micro-kernels and packers, called on their own (as XNNPACK tests its
 * kernels): the tests compare them with a numpy reference of their contract
 * (kernel_context.h) on every k remainder and edge, for any set this CPU runs, whichever is
 * active. Not part of the library's API. */
#ifndef FASTNN_UKERNEL_TEST_H
#define FASTNN_UKERNEL_TEST_H

#include <stddef.h>

typedef enum {
    FASTNN_UKERNEL_SGEMM,      /* register tile, float32 panels */
    FASTNN_UKERNEL_DGEMM,      /* register tile, float64 panels */
    FASTNN_UKERNEL_BF16GEMM,   /* register tile, bf16 pair panels, float32 C */
    FASTNN_UKERNEL_SGEMM_DOT,  /* dot tile, float32 rows of A and B along k */
    FASTNN_UKERNEL_DGEMM_DOT,  /* dot tile, float64 */
    FASTNN_UKERNEL_BF16GEMM_DOT, /* dot tile, float32 rows rounded to bf16 as they are loaded */
    FASTNN_UKERNEL_BF16GEMM_NARROW, /* the bf16 register tile of the narrow blocking */
    FASTNN_UKERNEL_BF16GEMM_FETCHING, /* the bf16 tile's ukernel_fetching, fetching its panels */
    FASTNN_UKERNEL_BF16GEMM_NARROW_FETCHING, /* the same of the narrow blocking */
    FASTNN_UKERNEL_SGEMM_HALF, /* the float32 MR x NR/2 tile for a last, narrow column tile */
    FASTNN_UKERNEL_DGEMM_HALF, /* the same, float64 */
    FASTNN_UKERNEL_SGEMM_PACKING_B, /* the float32 tile packing B's next micro-panel as it runs */
    FASTNN_UKERNEL_SGEMM_DOT_WIDE, /* the float32 dot tile spanning a product's few columns */
} fastnn_ukernel_kind;

/* The tile shape of `kind` in the set named `isa`: 0, or -1 for an unknown set, -2 for a kind it
 * does not have. */
int fastnn_ukernel_shape(const char *isa, int kind, int *mr, int *nr);

/* Runs the kernel `repeats` times on the same operands (the tests run it once; more times it
 * measures the kernel alone): a register tile as the loop nest calls it (a, b packed panels,
 * rs_b B's k stride, a full mr x nr tile of C at ldc), a dot tile on rows x cols at most its
 * shape (a, b rows along k, lda and ldb apart, given by rs_b and ldc's neighbours below).
 * Returns 0, -1 for an unknown set, -2 for a kind it does not have or a set this CPU cannot run. */
int fastnn_ukernel_run(const char *isa, int kind, ptrdiff_t k, const void *a, ptrdiff_t lda,
                       ptrdiff_t rows, const void *b, ptrdiff_t ldb, ptrdiff_t cols, void *c,
                       ptrdiff_t ldc, double alpha, double beta, long repeats);

/* The float32 tile of set `isa` that packs B as it runs (ukernel_packing_b) on packed panels a
 * and b, into an mr x nr tile of C at ldc, copying copy_rows k steps of nr floats, ld_src apart
 * from src, to dst. Same returns. */
int fastnn_packing_ukernel_run(const char *isa, ptrdiff_t k, const float *a, const float *b,
                               float *c, ptrdiff_t ldc, double alpha, double beta,
                               const float *src, ptrdiff_t ld_src, float *dst,
                               ptrdiff_t copy_rows);

/* The bf16 vector packers of set `isa` (interleaved != 0 picks that one; from_bf16 != 0 the
 * ones from bf16-stored sources, src then fastnn_bf16): `panels` panels of width w into dst.
 * Same returns. */
int fastnn_bf16_pack_run(const char *isa, int interleaved, int from_bf16, ptrdiff_t kc,
                         const void *src, ptrdiff_t ld, int w, ptrdiff_t panels, void *dst);

/* The float32 (f64 == 0) or float64 packers of set `isa`: `panels` panels of width w (ld elements
 * between the source's rows) by its copying packer, or, transposed != 0, by its transposing one
 * (one call a panel), into dst. Same returns; -2 also for a set without a transposing packer. */
int fastnn_float_pack_run(const char *isa, int f64, int transposed, ptrdiff_t kc, const void *src,
                          ptrdiff_t ld, int w, ptrdiff_t panels, void *dst);

#endif
