/* The micro-kernel of every vector instruction set, written once: an MR x (2 * LANES) tile of C
 * held in 2 * MR vector accumulators, fed per k step by two vectors of B and MR broadcasts of A.
 * A kernel file defines MR, includes its intrinsics under its own target pragma, and names the
 * vector type and intrinsics it brings; the unrolled loops keep every accumulator in a register.
 * beta == 0 never reads C. */
#ifndef FASTNN_REGISTER_TILE_H
#define FASTNN_REGISTER_TILE_H

/* k steps of a ROWS x (2 * LANES) tile: acc[i][.] += a[i] * (b's two vectors), a advancing by
 * ROWS values and b by rs_b each step (both are left past the last step). */
#define FASTNN_REGISTER_TILE_STEPS(ROWS, V, LANES, SET1, LOADU, FMADD, acc, k, a, b, rs_b)        \
    _Pragma("GCC unroll 4") for (ptrdiff_t p_ = 0; p_ < (k); p_++, (a) += (ROWS), (b) += (rs_b))  \
    {                                                                                             \
        V b0_ = LOADU(b), b1_ = LOADU((b) + LANES);                                               \
        _Pragma("GCC unroll 16") for (int i_ = 0; i_ < (ROWS); i_++)                              \
        {                                                                                         \
            V ai_ = SET1((a)[i_]);                                                                \
            acc[i_][0] = FMADD(ai_, b0_, acc[i_][0]);                                             \
            acc[i_][1] = FMADD(ai_, b1_, acc[i_][1]);                                             \
        }                                                                                         \
    }

#define FASTNN_DEFINE_REGISTER_TILE_UKERNEL(NAME, T, V, LANES, SET1, ZERO, LOADU, STOREU, FMADD, \
                                            MUL)                                                  \
    static void NAME(ptrdiff_t k, const T *a, const T *b, ptrdiff_t rs_b, T *c, ptrdiff_t ldc,   \
                     T alpha, T beta)                                                             \
    {                                                                                             \
        V acc[MR][2];                                                                             \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = ZERO();     \
        FASTNN_REGISTER_TILE_STEPS(MR, V, LANES, SET1, LOADU, FMADD, acc, k, a, b, rs_b);          \
        V va = SET1(alpha), vb = SET1(beta);                                                      \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++, c += ldc)                           \
        {                                                                                         \
            V r0 = MUL(va, acc[i][0]), r1 = MUL(va, acc[i][1]);                                   \
            if (beta != 0) {                                                                      \
                r0 = FMADD(vb, LOADU(c), r0);                                                     \
                r1 = FMADD(vb, LOADU(c + LANES), r1);                                             \
            }                                                                                     \
            STOREU(c, r0);                                                                        \
            STOREU(c + LANES, r1);                                                                \
        }                                                                                         \
    }

#endif
