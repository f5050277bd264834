/* The micro-kernel of every vector instruction set, written once: an MR x (2 * LANES) tile of C
 * held in 2 * MR vector accumulators, fed per k step by two vectors of B and MR broadcasts of A.
 * A kernel file defines MR, includes its intrinsics under its own target pragma, and names the
 * vector type and intrinsics it brings; the unrolled loops keep every accumulator in a register.
 * beta == 0 never reads C. */
#ifndef FASTNN_REGISTER_TILE_H
#define FASTNN_REGISTER_TILE_H

/* k steps of a ROWS x (VECTORS * LANES) tile: acc[i][v] += A(i, p) * (b's vector v), A(i, p) at
 * a[i * A_ROW + p * A_STEP], b advancing by rs_b each step (a and b are left past the last step).
 * Packed A is A_ROW = 1, A_STEP = ROWS; A read where it lies passes its own strides. */
#define FASTNN_REGISTER_TILE_STEPS_OF_N(ROWS, VECTORS, V, LANES, SET1, LOADU, FMADD, acc, k, a,    \
                                        A_ROW, A_STEP, b, rs_b)                                   \
    _Pragma("GCC unroll 4") for (ptrdiff_t p_ = 0; p_ < (k); p_++, (a) += (A_STEP), (b) += (rs_b)) \
    {                                                                                             \
        V b_[VECTORS];                                                                            \
        _Pragma("GCC unroll 4") for (int v_ = 0; v_ < (VECTORS); v_++) b_[v_] = LOADU((b) + v_ * LANES); \
        _Pragma("GCC unroll 16") for (int i_ = 0; i_ < (ROWS); i_++)                              \
        {                                                                                         \
            V ai_ = SET1((a)[i_ * (A_ROW)]);                                                      \
            _Pragma("GCC unroll 4") for (int v_ = 0; v_ < (VECTORS); v_++)                        \
                acc[i_][v_] = FMADD(ai_, b_[v_], acc[i_][v_]);                                    \
        }                                                                                         \
    }

/* The full tile's two vectors a row */
#define FASTNN_REGISTER_TILE_STEPS_OF(ROWS, V, LANES, SET1, LOADU, FMADD, acc, k, a, A_ROW,        \
                                      A_STEP, b, rs_b)                                            \
    FASTNN_REGISTER_TILE_STEPS_OF_N(ROWS, 2, V, LANES, SET1, LOADU, FMADD, acc, k, a, A_ROW,       \
                                    A_STEP, b, rs_b)

/* k steps of a ROWS x (2 * LANES) tile from a packed micro-panel of A (ROWS values a step). */
#define FASTNN_REGISTER_TILE_STEPS(ROWS, V, LANES, SET1, LOADU, FMADD, acc, k, a, b, rs_b)        \
    FASTNN_REGISTER_TILE_STEPS_OF(ROWS, V, LANES, SET1, LOADU, FMADD, acc, k, a, 1, ROWS, b, rs_b)

/* C = alpha * acc + beta * C over MR rows of VECTORS vectors (beta == 0 never reads C) */
#define FASTNN_REGISTER_TILE_STORE_N(VECTORS, V, LANES, SET1, LOADU, STOREU, FMADD, MUL, acc, c,   \
                                     ldc, alpha, beta)                                            \
    {                                                                                             \
        V va = SET1(alpha), vb = SET1(beta);                                                      \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++, c += ldc)                           \
            _Pragma("GCC unroll 4") for (int v = 0; v < (VECTORS); v++)                           \
            {                                                                                     \
                V r = MUL(va, acc[i][v]);                                                         \
                if (beta != 0)                                                                    \
                    r = FMADD(vb, LOADU(c + v * LANES), r);                                       \
                STOREU(c + v * LANES, r);                                                         \
            }                                                                                     \
    }

#define FASTNN_REGISTER_TILE_STORE(V, LANES, SET1, LOADU, STOREU, FMADD, MUL, acc, c, ldc, alpha, \
                                   beta)                                                          \
    FASTNN_REGISTER_TILE_STORE_N(2, V, LANES, SET1, LOADU, STOREU, FMADD, MUL, acc, c, ldc, alpha, \
                                 beta)

/* The micro-kernel of an MR x (VECTORS * LANES) tile on a packed micro-panel of A */
#define FASTNN_DEFINE_TILE_UKERNEL_N(NAME, VECTORS, T, V, LANES, SET1, ZERO, LOADU, STOREU, FMADD, \
                                     MUL)                                                         \
    static void NAME(ptrdiff_t k, const T *a, const T *b, ptrdiff_t rs_b, T *c, ptrdiff_t ldc,   \
                     T alpha, T beta)                                                             \
    {                                                                                             \
        V acc[MR][VECTORS];                                                                       \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                                     \
            _Pragma("GCC unroll 4") for (int v = 0; v < (VECTORS); v++) acc[i][v] = ZERO();       \
        FASTNN_REGISTER_TILE_STEPS_OF_N(MR, VECTORS, V, LANES, SET1, LOADU, FMADD, acc, k, a, 1,  \
                                        MR, b, rs_b);                                             \
        FASTNN_REGISTER_TILE_STORE_N(VECTORS, V, LANES, SET1, LOADU, STOREU, FMADD, MUL, acc, c,  \
                                     ldc, alpha, beta)                                            \
    }

/* The micro-kernel on a packed micro-panel of A, and NAME##_strided_a on A read where it lies
 * (A(i, p) at a[i * rs_a + p * cs_a]: a row-major block, or a transposed one, in place). */
#define FASTNN_DEFINE_REGISTER_TILE_UKERNEL(NAME, T, V, LANES, SET1, ZERO, LOADU, STOREU, FMADD, \
                                            MUL)                                                  \
    FASTNN_DEFINE_TILE_UKERNEL_N(NAME, 2, T, V, LANES, SET1, ZERO, LOADU, STOREU, FMADD, MUL)     \
    static void NAME##_strided_a(ptrdiff_t k, const T *a, ptrdiff_t rs_a, ptrdiff_t cs_a,        \
                                 const T *b, ptrdiff_t rs_b, T *c, ptrdiff_t ldc, T alpha, T beta) \
    {                                                                                             \
        V acc[MR][2];                                                                             \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = ZERO();     \
        FASTNN_REGISTER_TILE_STEPS_OF(MR, V, LANES, SET1, LOADU, FMADD, acc, k, a, rs_a, cs_a, b, \
                                      rs_b);                                                      \
        FASTNN_REGISTER_TILE_STORE(V, LANES, SET1, LOADU, STOREU, FMADD, MUL, acc, c, ldc, alpha, \
                                   beta)                                                          \
    }

/* The MR x LANES tile (one vector a row) for C's last column tile where at most half a register
 * tile's columns remain (784 = 24 x 32 + 16): half the multiply-adds of the full tile on its
 * padding. B is read LANES values a step, rs_b apart (the packed panel's first half). Measured
 * on dW = dS^T X at 1024 x 784 x 256 (the first layer's weight gradient at batch 256), one Zen 5
 * core, five pairs of processes in alternation, median: 1.663 -> 1.627 ms. */
#define FASTNN_DEFINE_HALF_TILE_UKERNEL(NAME, T, V, LANES, SET1, ZERO, LOADU, STOREU, FMADD, MUL)  \
    FASTNN_DEFINE_TILE_UKERNEL_N(NAME, 1, T, V, LANES, SET1, ZERO, LOADU, STOREU, FMADD, MUL)

#endif
