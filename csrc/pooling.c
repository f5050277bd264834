/* Max, average and adaptive average pooling (pooling.h), once per type (pooling_template.h). */
#include "pooling.h"

#include <math.h>
#include <string.h>

#include "elementwise.h"

/* The input positions [first, end) a window covers along one axis, `step` apart, inside the
 * image: `first` is the first tap at or after 0, `end` one past the last below `size`. */
typedef struct {
    ptrdiff_t first, end;
} window;

static inline window clip(ptrdiff_t o, ptrdiff_t stride, ptrdiff_t pad, ptrdiff_t step,
                          ptrdiff_t kernel, ptrdiff_t size)
{
    ptrdiff_t start = o * stride - pad, last = start + (kernel - 1) * step;
    window w;
    w.first = start >= 0 ? start : start + ((-start + step - 1) / step) * step;
    w.end = (last < size ? last : size - 1) + 1;
    if (w.end < w.first)
        w.end = w.first;
    return w;
}

static inline window adaptive_bin(ptrdiff_t o, ptrdiff_t size, ptrdiff_t out)
{
    window w = {o * size / out, ((o + 1) * size + out - 1) / out};
    return w;
}

#define T float
#define NAME(x) x##_f32
#include "pooling_template.h"
#undef T
#undef NAME

#define T double
#define NAME(x) x##_f64
#include "pooling_template.h"
#undef T
#undef NAME
