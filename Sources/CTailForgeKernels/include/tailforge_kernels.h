#ifndef TAILFORGE_KERNELS_H
#define TAILFORGE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// The hot loops of the vMF sampler (the generator, the whole normal fill, the dot products and the combination),
// in C because Swift has no per-function target attribute: the vector loops are compiled for x86-64-v4
// (AVX-512), x86-64-v3 (AVX2) and the baseline, and the dynamic loader picks the best the CPU has (target_clones,
// or for the box step a hand-written AVX-512 build behind an ifunc, resolved once). The binary stays portable,
// and every variant computes the same bits: integer operations, exact int→float conversions, and float and
// double arithmetic in a fixed order with fused multiply-add turned off (exp and log from the C library, as the
// Swift code calls them). The normals' bits are part of every compact balanced file and replayed job: compact
// files regenerate their synthetic rows on load, so the stream order and every rounding here are fixed.

/// Lanes of `tailforge_xoshiro_lanes_fill`: eight independent xoshiro256++ generators, one 512-bit register.
#define TAILFORGE_XOSHIRO_LANES 8

/// Advances eight xoshiro256++ generators `steps` times and writes their outputs step-major: out[8s + l] is
/// lane l's output at step s. `state` holds s0 of lanes 0…7, then s1, s2, s3 (32 words).
void tailforge_xoshiro_lanes_fill(uint64_t *state, uint64_t *out, size_t steps);

/// Words `tailforge_xoshiro_lanes` hands out one at a time from its buffer: four steps of the eight lanes.
#define TAILFORGE_XOSHIRO_LANES_BUFFERED (4 * TAILFORGE_XOSHIRO_LANES)

/// The eight-lane generator with its buffer of outputs not yet handed out (`Xoshiro256PlusPlusLanes` in Swift
/// holds one; C loops that draw further words read it in place).
typedef struct {
    /// s0 of lanes 0…7, then s1, s2, s3: the layout `tailforge_xoshiro_lanes_fill` reads.
    uint64_t state[4 * TAILFORGE_XOSHIRO_LANES];
    /// The next outputs of the stream from `position` on (`position` = TAILFORGE_XOSHIRO_LANES_BUFFERED: empty).
    uint64_t buffer[TAILFORGE_XOSHIRO_LANES_BUFFERED];
    int64_t position;
} tailforge_xoshiro_lanes;

/// Advances every lane four steps into the buffer and rewinds `position` to 0.
void tailforge_xoshiro_lanes_refill(tailforge_xoshiro_lanes *generator);

/// The next `count` words of the stream: the buffered ones first, then whole steps straight into `out`, the rest
/// through the buffer; the same words, in the same order, as `count` one-at-a-time reads.
void tailforge_xoshiro_lanes_words(tailforge_xoshiro_lanes *generator, uint64_t *out, size_t count);

/// Where the normal generator takes its random words: the eight-lane generator read in place (`lanes`
/// non-null), or any other generator through `words(context, out, count)`, which writes its next `count`
/// outputs.
typedef struct {
    tailforge_xoshiro_lanes *lanes;
    void (*words)(void *context, uint64_t *out, size_t count);
    void *context;
} tailforge_word_source;

/// log2 of the ziggurat's layer count. A 32-bit draw is TAILFORGE_ZIGGURAT_LAYER_BITS layer bits, one sign bit
/// and the rest (31 − layer bits) position bits; a 64-bit draw (the Double path) the layer bits, the sign bit and
/// 53 position bits from bit 11 on. Part of the normal stream's definition: another value is another stream.
#ifndef TAILFORGE_ZIGGURAT_LAYER_BITS
#define TAILFORGE_ZIGGURAT_LAYER_BITS 10
#endif

/// One layer of the ziggurat's box, for 32-bit draws: a (31 − TAILFORGE_ZIGGURAT_LAYER_BITS)-bit position j is
/// the point j·scale of the layer, inside its box (no wedge test needed) when j < limit. Scale and limit side by side, so the vector
/// box step fetches both with one 64-bit gather.
typedef struct {
    float scale;
    int32_t limit;
} tailforge_ziggurat_layer;

/// The ziggurat's tables (`ZigguratTable` in Swift builds them once), for n = 2^TAILFORGE_ZIGGURAT_LAYER_BITS
/// layers: x[0…n] (x[1] = r, the tail's start; x[n] = 0), f[i] = exp(−x[i]²/2), and the layers' boxes for 32-bit
/// draws.
typedef struct {
    const double *x;
    const double *f;
    const tailforge_ziggurat_layer *layers;
} tailforge_ziggurat;

/// The ziggurat's box step for `count` draws, two per word (low 32 bits first): the layer bits, the sign bit and
/// the position bits (low to high) give ±position·layers[layer].scale. Draws whose position is not below layers[layer].limit (to be
/// redone outside the box) are listed in `missed` (room for `count`) in increasing order; returns how many.
size_t tailforge_ziggurat_box(const uint64_t *words, size_t count, const tailforge_ziggurat_layer *layers, float *out,
                              int32_t *missed);

/// `tailforge_ziggurat_box` as built for instruction-set level `level` (4: AVX-512, 3: AVX2, 1: the
/// baseline), for tests that hold every build to the same bits; the CPU must have that level
/// (`tailforge_random_isa_level() >= level`).
size_t tailforge_ziggurat_box_at_level(int level, const uint64_t *words, size_t count,
                                       const tailforge_ziggurat_layer *layers, float *out, int32_t *missed);

/// Standard normal draws into out[0…count): chunks of 256 draws from 128 words, the box step, then each chunk's
/// misses redone in index order (wedge, tail, or a fresh 32-bit draw), taking further words from `source`.
void tailforge_normal_fill(float *out, size_t count, const tailforge_ziggurat *tables, const tailforge_word_source *source);

/// For a point x of `layer` outside its box: the accepted magnitude (the wedge test, or a draw from the tail
/// beyond r for layer 0), or a negative value to redraw. Further uniforms come from `source`.
double tailforge_ziggurat_edge(int layer, double x, const tailforge_ziggurat *tables, const tailforge_word_source *source);

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
