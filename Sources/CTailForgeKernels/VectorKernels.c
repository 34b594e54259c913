#include "tailforge_kernels.h"
#include "clones.h"

// Every variant must give the same bits: no fused multiply-add (the baseline has none), and the lanes are
// written out so the compiler never reorders a sum.
#pragma clang fp contract(off)


#define LANES TAILFORGE_DOT_LANES

TAILFORGE_CLONES
void tailforge_dots(const float *restrict a, const float *restrict b, size_t blocks, float *restrict sums) {
    float ab[LANES] = {0}, aa[LANES] = {0}, bb[LANES] = {0};
    for (size_t i = 0; i < blocks; i++) {
        for (int l = 0; l < LANES; l++) {
            float x = a[i * LANES + l], y = b[i * LANES + l];
            ab[l] += x * y;
            aa[l] += x * x;
            bb[l] += y * y;
        }
    }
    for (int l = 0; l < LANES; l++) {
        sums[l] = ab[l];
        sums[LANES + l] = aa[l];
        sums[2 * LANES + l] = bb[l];
    }
}

TAILFORGE_CLONES
void tailforge_combine(float alpha, const float *restrict m, float beta, float *restrict y, size_t count) {
    for (size_t i = 0; i < count; i++) y[i] = alpha * m[i] + beta * y[i];
}
