#ifndef TAILFORGE_RANDOM_H
#define TAILFORGE_RANDOM_H

#include <stddef.h>
#include <stdint.h>

// The two hot loops of the normal generator, in C because Swift has no per-function target attribute: each is
// compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2) and the baseline, and the dynamic loader picks the best
// the CPU has (target_clones, resolved once through an ifunc). The binary stays portable, and every variant
// computes the same bits: integer operations, an exact int→float conversion and one IEEE multiply.

/// Lanes of `tailforge_xoshiro_lanes_fill`: eight independent xoshiro256++ generators, one 512-bit register.
#define TAILFORGE_XOSHIRO_LANES 8

/// Advances eight xoshiro256++ generators `steps` times and writes their outputs step-major: out[8s + l] is
/// lane l's output at step s. `state` holds s0 of lanes 0…7, then s1, s2, s3 (32 words).
void tailforge_xoshiro_lanes_fill(uint64_t *state, uint64_t *out, size_t steps);

/// The ziggurat's box step for `count` draws, two per word (low 32 bits first): 8 layer bits, 1 sign bit and
/// 23 position bits give ±position·scale[layer]. miss[k] is 1 where the position is not below limit[layer]
/// (the draw must be redone outside the box), else 0. Returns the number of misses.
size_t tailforge_ziggurat_box(const uint64_t *words, size_t count, const float *scale, const int32_t *limit,
                              float *out, uint8_t *miss);

/// The instruction-set level the loader chose for these loops: 4 (AVX-512), 3 (AVX2) or 1 (baseline), for
/// benchmark reports.
int tailforge_random_isa_level(void);

#endif
