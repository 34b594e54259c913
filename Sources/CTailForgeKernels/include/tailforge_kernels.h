#ifndef TAILFORGE_KERNELS_H
#define TAILFORGE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// The hot loops of the vMF sampler (the normal generator's two, the dot products and the combination), in C
// because Swift has no per-function target attribute: each is compiled for x86-64-v4 (AVX-512), x86-64-v3
// (AVX2) and the baseline, and the dynamic loader picks the best the CPU has (target_clones, resolved once
// through an ifunc). The binary stays portable, and every variant computes the same bits: integer operations,
// exact int→float conversions, and float arithmetic in a fixed order with fused multiply-add turned off.

/// Lanes of `tailforge_xoshiro_lanes_fill`: eight independent xoshiro256++ generators, one 512-bit register.
#define TAILFORGE_XOSHIRO_LANES 8

/// Advances eight xoshiro256++ generators `steps` times and writes their outputs step-major: out[8s + l] is
/// lane l's output at step s. `state` holds s0 of lanes 0…7, then s1, s2, s3 (32 words).
void tailforge_xoshiro_lanes_fill(uint64_t *state, uint64_t *out, size_t steps);

/// The ziggurat's box step for `count` draws, two per word (low 32 bits first): 8 layer bits, 1 sign bit and
/// 23 position bits give ±position·scale[layer]. Draws whose position is not below limit[layer] (to be redone
/// outside the box) are listed in `missed` in increasing order; returns how many. `flags` is scratch space
/// of `count` bytes (flags[k] = 1 for a miss on return).
size_t tailforge_ziggurat_box(const uint64_t *words, size_t count, const float *scale, const int32_t *limit,
                              float *out, uint8_t *flags, int32_t *missed);

/// Lanes of `tailforge_dots`: 32 partial sums per dot product, four independent 8-wide chains, so the adds
/// latency overlaps (one chain per sum left the loop waiting on it).
#define TAILFORGE_DOT_LANES 32

/// Partial sums of a·b, a·a and b·b over `blocks` blocks of 32 values: sums[l], sums[32 + l], sums[64 + l] are
/// lane l's sums (element i goes to lane i mod 32, added in index order, in float, no fused multiply-add).
void tailforge_dots(const float *a, const float *b, size_t blocks, float *sums);

/// y[i] = alpha·m[i] + beta·y[i] (two rounded products, one rounded sum: no fused multiply-add).
void tailforge_combine(float alpha, const float *m, float beta, float *y, size_t count);

/// The instruction-set level the loader chose for these loops: 4 (AVX-512), 3 (AVX2) or 1 (baseline), for
/// benchmark reports.
int tailforge_random_isa_level(void);

#endif
