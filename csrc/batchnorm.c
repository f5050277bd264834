/* Batch normalisation's statistics, affine pass and backward (batchnorm.h), once per type
 * (batchnorm_template.h). */
#include "batchnorm.h"

#include "elementwise.h"

#define T float
#define NAME(x) x##_f32
#include "batchnorm_template.h"
#undef T
#undef NAME

#define T double
#define NAME(x) x##_f64
#include "batchnorm_template.h"
#undef T
#undef NAME
