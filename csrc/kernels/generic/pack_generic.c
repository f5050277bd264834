/* The portable copying packer (kernels/pack_copy.h): rows moved 8 bytes at a time, which the
 * compiler keeps as moves of its baseline registers rather than a call to memmove per row. */
#include <stdint.h>
#include <string.h>

#include "kernel_context.h"
#include "kernels/pack_copy.h"

/* `bytes` (a multiple of 4) from src to dst */
static inline void copy_row_generic(char *dst, const char *src, int bytes)
{
    int b = 0;
    for (; b + 8 <= bytes; b += 8) {
        uint64_t v;
        memcpy(&v, src + b, 8);
        memcpy(dst + b, &v, 8);
    }
    if (b < bytes) {
        uint32_t v;
        memcpy(&v, src + b, 4);
        memcpy(dst + b, &v, 4);
    }
}

FASTNN_DEFINE_PACK_COPY(fastnn_pack_copy_generic, copy_row_generic)
