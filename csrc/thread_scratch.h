/* Scratch memory per thread, one slot per use, kept from call to call (allocating it per call
 * would page-fault fresh memory each time) and freed when the thread exits. */
#ifndef FASTNN_THREAD_SCRATCH_H
#define FASTNN_THREAD_SCRATCH_H

#include <stddef.h>

enum {
    FASTNN_SCRATCH_ROW_BLOCK_GRADIENT, /* fused_optim.c: a block of dW rows on its way to the update */
    FASTNN_SCRATCH_SLOTS
};

/* At least `bytes` bytes, 64-byte aligned, for this thread's use of `slot` (its content is not
 * kept when it grows); NULL when memory runs out. */
void *fastnn_thread_scratch(int slot, size_t bytes);

#endif
