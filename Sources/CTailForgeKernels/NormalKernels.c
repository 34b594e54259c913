#include "tailforge_kernels.h"
#include "clones.h"

#include <math.h>
#include <string.h>

// Every build gives the same bits, and the same as the plain scalar algorithm: integer operations, exact
// int→float conversions, float and double arithmetic in source order with fused multiply-add turned off, and
// exp/log from the C library.
#pragma clang fp contract(off)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tailforge_ziggurat_box reads a word's low half as the first draw, which assumes little-endian"
#endif

// The fields of a 32-bit draw, low to high: layer, sign, position.
#define LAYER_BITS TAILFORGE_ZIGGURAT_LAYER_BITS
#define LAYER_MASK ((1u << LAYER_BITS) - 1)
#define SIGN_BIT (1u << LAYER_BITS)
#define POSITION_SHIFT (LAYER_BITS + 1)
/// Position bits; also how far the sign bit moves to reach bit 31.
#define POSITION_BITS (31 - LAYER_BITS)
/// 2^−POSITION_BITS (exact).
#define POSITION_UNIT (1.0 / (double)(1u << POSITION_BITS))

// MARK: - The box step

/// The box step as plain C, vectorised by the compiler for the AVX2 and baseline builds.
static inline __attribute__((always_inline)) size_t box_portable(
    const uint64_t *restrict words, size_t count, const tailforge_ziggurat_layer *restrict layers,
    float *restrict out, int32_t *restrict missed) {
    const unsigned char *bytes = (const unsigned char *)words;
    size_t misses = 0;
    for (size_t start = 0; start < count; start += 64) {
        size_t n = count - start < 64 ? count - start : 64;
        uint8_t flags[64];
        for (size_t k = 0; k < n; k++) {
            // Draw k is the 32-bit half k of the word array (low half first on this little-endian layout): a
            // plain contiguous load, where splitting words[k/2] made the compiler gather (twice as slow).
            uint32_t bits;
            memcpy(&bits, bytes + 4 * (start + k), sizeof bits);
            uint32_t layer = bits & LAYER_MASK;
            // Through int32 (exact below 2^24): one signed conversion instruction.
            int32_t position = (int32_t)(bits >> POSITION_SHIFT);
            float x = (float)position * layers[layer].scale;
            uint32_t pattern;
            memcpy(&pattern, &x, sizeof pattern);
            pattern |= (bits & SIGN_BIT) << POSITION_BITS;  // the sign bit moves to bit 31
            memcpy(&out[start + k], &pattern, sizeof pattern);
            flags[k] = position >= layers[layer].limit;
        }
        // The misses as a list, eight flags per load: about one group in nine holds one.
        size_t k = 0;
        for (; k + 8 <= n; k += 8) {
            uint64_t group;
            memcpy(&group, flags + k, sizeof group);
            while (group != 0) {
                missed[misses++] = (int32_t)(start + k + (size_t)__builtin_ctzll(group) / 8);
                group &= group - 1;
            }
        }
        for (; k < n; k++) {
            if (flags[k]) missed[misses++] = (int32_t)(start + k);
        }
    }
    return misses;
}

#if defined(__x86_64__) && defined(__ELF__) && defined(__clang__)
#include <immintrin.h>

/// The box step in AVX-512, sixteen draws at a time. Each layer's scale and limit sit side by side in one 64-bit
/// entry, so two 8-wide 64-bit gathers fetch both for sixteen draws: half the gathered elements of two
/// 16-wide 32-bit gathers, which were the compiler-vectorised loop's cost (about half its time). The misses
/// are compressed straight into the list, without a flag array to scan.
__attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))
static size_t box_avx512(const uint64_t *restrict words, size_t count, const tailforge_ziggurat_layer *restrict layers,
                         float *restrict out, int32_t *restrict missed) {
    const __m512i scaleHalves = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i limitHalves = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const int32_t *draws = (const int32_t *)words;
    size_t misses = 0;
    for (size_t k = 0; k < count; k += 16) {
        __mmask16 active = count - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - k)) - 1);
        __m512i bits = _mm512_maskz_loadu_epi32(active, draws + k);
        __m512i layer = _mm512_and_si512(bits, _mm512_set1_epi32((int32_t)LAYER_MASK));
        __m512i position = _mm512_srli_epi32(bits, POSITION_SHIFT);
        __m512i low = _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), (__mmask8)active,
                                                  _mm512_castsi512_si256(layer), layers, 8);
        __m512i high = _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), (__mmask8)(active >> 8),
                                                   _mm512_extracti64x4_epi64(layer, 1), layers, 8);
        __m512 scale = _mm512_castsi512_ps(_mm512_permutex2var_epi32(low, scaleHalves, high));
        __m512i limit = _mm512_permutex2var_epi32(low, limitHalves, high);
        __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(position), scale);
        __m512i sign = _mm512_slli_epi32(_mm512_and_si512(bits, _mm512_set1_epi32((int32_t)SIGN_BIT)), POSITION_BITS);
        _mm512_mask_storeu_epi32(out + k, active, _mm512_or_si512(_mm512_castps_si512(x), sign));
        __mmask16 miss = _mm512_mask_cmpge_epi32_mask(active, position, limit);
        unsigned found = (unsigned)__builtin_popcount(miss);
        __m512i index = _mm512_add_epi32(lane, _mm512_set1_epi32((int32_t)k));
        _mm512_mask_storeu_epi32(missed + misses, (__mmask16)((1u << found) - 1), _mm512_maskz_compress_epi32(miss, index));
        misses += found;
    }
    return misses;
}

__attribute__((target("arch=x86-64-v3")))
static size_t box_avx2(const uint64_t *restrict words, size_t count, const tailforge_ziggurat_layer *restrict layers,
                       float *restrict out, int32_t *restrict missed) {
    return box_portable(words, count, layers, out, missed);
}

static size_t box_baseline(const uint64_t *restrict words, size_t count, const tailforge_ziggurat_layer *restrict layers,
                           float *restrict out, int32_t *restrict missed) {
    return box_portable(words, count, layers, out, missed);
}

typedef size_t box_function(const uint64_t *, size_t, const tailforge_ziggurat_layer *, float *, int32_t *);

static box_function *box_at_level(int level) {
    return level >= 4 ? box_avx512 : level >= 3 ? box_avx2 : box_baseline;
}

// Chosen once by the dynamic loader (an ifunc, as the target_clones loops are).
static box_function *resolve_box(void) { return box_at_level(tailforge_isa_level()); }

size_t tailforge_ziggurat_box(const uint64_t *words, size_t count, const tailforge_ziggurat_layer *layers, float *out,
                              int32_t *missed) __attribute__((ifunc("resolve_box")));

size_t tailforge_ziggurat_box_at_level(int level, const uint64_t *words, size_t count,
                                       const tailforge_ziggurat_layer *layers, float *out, int32_t *missed) {
    return box_at_level(level)(words, count, layers, out, missed);
}

#else

size_t tailforge_ziggurat_box(const uint64_t *words, size_t count, const tailforge_ziggurat_layer *layers, float *out,
                              int32_t *missed) {
    return box_portable(words, count, layers, out, missed);
}

size_t tailforge_ziggurat_box_at_level(int level, const uint64_t *words, size_t count,
                                       const tailforge_ziggurat_layer *layers, float *out, int32_t *missed) {
    (void)level;
    return box_portable(words, count, layers, out, missed);
}

#endif

// MARK: - Outside the box

static inline uint64_t next_word(const tailforge_word_source *source) {
    tailforge_xoshiro_lanes *lanes = source->lanes;
    if (lanes != NULL) {
        if (lanes->position == TAILFORGE_XOSHIRO_LANES_BUFFERED) tailforge_xoshiro_lanes_refill(lanes);
        return lanes->buffer[lanes->position++];
    }
    uint64_t word;
    source->words(source->context, &word, 1);
    return word;
}

/// The next word if `take`, else any value (which the caller ignores). The eight-lane generator's word is read
/// either way and the position advanced by `take`, without a branch on it: `take` is a wedge point's
/// rejection, a coin toss the branch predictor cannot learn. (A refill it triggers early draws the same words
/// the next read would have.)
static inline uint64_t next_word_if(const tailforge_word_source *source, int take) {
    tailforge_xoshiro_lanes *lanes = source->lanes;
    if (lanes != NULL) {
        if (lanes->position == TAILFORGE_XOSHIRO_LANES_BUFFERED) tailforge_xoshiro_lanes_refill(lanes);
        uint64_t word = lanes->buffer[lanes->position];
        lanes->position += take;
        return word;
    }
    return take ? next_word(source) : 0;
}

/// Uniform on the open interval (0, 1): 53 random bits centred in their cell, never 0 (safe to take the log
/// of), never 1 — as `UnitUniform` in Swift.
static inline double unit_uniform(const tailforge_word_source *source) {
    return ((double)(next_word(source) >> 11) + 0.5) * 0x1p-53;
}

/// A draw from the tail beyond r = x[1] (Marsaglia 1964), for points of layer 0 outside its box.
static inline double tail(const tailforge_ziggurat *tables, const tailforge_word_source *source) {
    const double r = tables->x[1];
    for (;;) {
        double a = -log(unit_uniform(source)) / r;
        double b = -log(unit_uniform(source));
        if (b + b >= a * a) return r + a;
    }
}

/// The wedge test for a point x of layer i ≥ 1 outside its box, with u uniform: x in [x[i+1], x[i]),
/// y = f[i] + u(f[i+1] − f[i]); accept when y < f(x). f is convex beyond 1 and concave below, so the chord and
/// a tangent through the layer's corners bound it on each side and settle most points without the exponential
/// (the squeeze of McFarland 2016, "A modified ziggurat algorithm"); in u's terms, y lies above the chord
/// exactly when u > (x[i] − x)/(x[i] − x[i+1]).
static inline int wedge_accepts(int layer, double x, double u, const tailforge_ziggurat *tables) {
    const double outer = tables->x[layer], inner = tables->x[layer + 1];
    const double low = tables->f[layer], high = tables->f[layer + 1];
    double y = low + u * (high - low);
    double chord = (outer - x) / (outer - inner);
    // Convex side (x[i+1] ≥ 1): above the chord, which lies above f, rejects; else below the tangent at x[i],
    // which lies below f, accepts. Concave side (x[i] ≤ 1): below the chord, which lies below f, accepts; else
    // above the tangent at x[i+1], above f, rejects. Both tests are computed and combined without branches
    // (the verdict is a coin toss, each branch on it a misprediction); only the rare point the squeeze leaves
    // undecided, and the layer straddling 1, branch to the exponential.
    const int convex = inner >= 1, concave = outer <= 1;
    double tangent = convex ? low * (1 + outer * (outer - x)) : high * (1 - inner * (x - inner));
    int byChord = convex ? u > chord : u < chord;
    int byTangent = convex ? y < tangent : y > tangent;
    if ((convex | concave) & (byChord | byTangent)) return byChord ^ convex;
    return y < exp(-0.5 * x * x);
}

double tailforge_ziggurat_edge(int layer, double x, const tailforge_ziggurat *tables, const tailforge_word_source *source) {
    if (layer == 0) return tail(tables, source);
    return wedge_accepts(layer, x, unit_uniform(source), tables) ? x : -1;
}

/// A draw that missed its box (`bits`: layer, sign and position bits): the tail for layer 0, the wedge test
/// otherwise, and on rejection a complete fresh draw from the low 32 bits of the next word (the same 32-bit
/// sampler, so the result stays exact; a rejection costs one word rather than a full Double draw), which lands
/// in its box 99.57% of the time. The common case (the squeeze decides, and a rejected point's fresh draw lands
/// in its box) has no branch on the verdict: both outcomes are computed and one is selected.
static inline float redraw_miss(uint32_t bits, const tailforge_ziggurat *tables, const tailforge_word_source *source) {
    for (;;) {
        int layer = (int)(bits & LAYER_MASK);
        uint32_t position = bits >> POSITION_SHIFT;
        double magnitude;
        int accept;
        if (layer == 0) {
            magnitude = tail(tables, source);
            accept = 1;
        } else {
            magnitude = (double)position * tables->x[layer] * POSITION_UNIT;
            accept = wedge_accepts(layer, magnitude, unit_uniform(source), tables);
        }
        float kept = (float)((bits & SIGN_BIT) ? -magnitude : magnitude);
        // The fresh draw, as the box step writes it.
        uint32_t fresh = (uint32_t)next_word_if(source, !accept);
        tailforge_ziggurat_layer freshLayer = tables->layers[fresh & LAYER_MASK];
        int32_t freshPosition = (int32_t)(fresh >> POSITION_SHIFT);
        float freshX = (float)freshPosition * freshLayer.scale;
        uint32_t keptBits, freshBits;
        memcpy(&keptBits, &kept, sizeof keptBits);
        memcpy(&freshBits, &freshX, sizeof freshBits);
        freshBits |= (fresh & SIGN_BIT) << POSITION_BITS;
        if (accept | (freshPosition < freshLayer.limit)) {
            uint32_t result = accept ? keptBits : freshBits;
            float value;
            memcpy(&value, &result, sizeof value);
            return value;
        }
        bits = fresh;  // the fresh draw missed its box too
    }
}

// MARK: - The misses on the eight-lane generator

/// What a missed draw's wedge test needs that does not depend on its uniform (the terms of `wedge_accepts`),
/// worked out for a group of misses before any of them draws: the misses do not depend on each other here, so
/// their divisions overlap, and the pass that must run in stream order is left with the uniform's comparisons.
typedef struct {
    double x, low, span, chord, tangent;
    uint32_t keptBits;
    int convex, squeeze;
} wedge_terms;

/// `value`, hidden from the optimiser: a mask built from a comparison stays a mask (the compiler otherwise
/// turns a bit-mask selection back into a branch and computes only the selected side).
static inline uint64_t opaque(uint64_t value) {
#if defined(__GNUC__) || defined(__clang__)
    __asm__("" : "+r"(value));
#endif
    return value;
}

/// Misses redone per group.
#define MISS_GROUP 16

/// `redraw_miss` for each of a chunk's misses, in index order, on the eight-lane generator: the same words in
/// the same order and the same bits (the same expressions, evaluated in the same order), restructured for speed.
/// The wedge terms are computed for a group first; then each miss in turn takes its uniform from the buffer,
/// settles by the squeeze (the exponential only when it cannot), and takes the fresh word when rejected — the
/// buffer position kept in a register, so each miss waits only on the previous one's verdict. Layer 0 (the tail)
/// and a fresh draw that misses its box too go through `redraw_miss`, which continues exactly where this left.
static void redo_misses_on_lanes(float *out, const uint64_t *words, const int32_t *missed, size_t misses,
                                 const tailforge_ziggurat *tables, const tailforge_word_source *source) {
    tailforge_xoshiro_lanes *lanes = source->lanes;
    for (size_t first = 0; first < misses; first += MISS_GROUP) {
        size_t group = misses - first < MISS_GROUP ? misses - first : MISS_GROUP;
        wedge_terms terms[MISS_GROUP];
        uint32_t drawn[MISS_GROUP];
        for (size_t m = 0; m < group; m++) {
            size_t k = (size_t)missed[first + m];
            uint32_t bits = (uint32_t)(words[k >> 1] >> ((k & 1) << 5));
            drawn[m] = bits;
            // Layer 0 reads x[1] as its inner edge like any layer; its terms go unused (the tail decides).
            int layer = (int)(bits & LAYER_MASK);
            uint32_t position = bits >> POSITION_SHIFT;
            double x = (double)position * tables->x[layer] * POSITION_UNIT;
            const double outer = tables->x[layer], inner = tables->x[layer + 1];
            const double low = tables->f[layer], high = tables->f[layer + 1];
            const int convex = inner >= 1, concave = outer <= 1;
            // Selections by bit masks, not branches: the sign and `convex` are coin tosses per miss, and the
            // compiler turned the conditional expressions into branches. Rounding to Float is symmetric, so
            // (float)(−x) is (float)x with the sign bit set.
            float magnitude = (float)x;
            uint32_t magnitudeBits;
            memcpy(&magnitudeBits, &magnitude, sizeof magnitudeBits);
            double convexTangent = low * (1 + outer * (outer - x)), concaveTangent = high * (1 - inner * (x - inner));
            uint64_t convexBits, concaveBits, mask = opaque((uint64_t)0 - (uint64_t)convex), tangentBits;
            memcpy(&convexBits, &convexTangent, sizeof convexBits);
            memcpy(&concaveBits, &concaveTangent, sizeof concaveBits);
            tangentBits = (convexBits & mask) | (concaveBits & ~mask);
            wedge_terms t;
            t.x = x;
            t.low = low;
            t.span = high - low;
            t.chord = (outer - x) / (outer - inner);
            memcpy(&t.tangent, &tangentBits, sizeof tangentBits);
            t.keptBits = magnitudeBits | ((bits & SIGN_BIT) << POSITION_BITS);
            t.convex = convex;
            t.squeeze = convex | concave;
            terms[m] = t;
        }
        int64_t position = lanes->position;
        for (size_t m = 0; m < group; m++) {
            size_t k = (size_t)missed[first + m];
            uint32_t bits = drawn[m];
            if ((bits & LAYER_MASK) == 0) {
                lanes->position = position;
                out[k] = redraw_miss(bits, tables, source);
                position = lanes->position;
                continue;
            }
            const wedge_terms t = terms[m];
            if (position == TAILFORGE_XOSHIRO_LANES_BUFFERED) {
                tailforge_xoshiro_lanes_refill(lanes);
                position = 0;
            }
            double u = ((double)(lanes->buffer[position++] >> 11) + 0.5) * 0x1p-53;
            double y = t.low + u * t.span;
            // As `wedge_accepts`, with the selections written as bit operations (branches on coin tosses).
            int byChord = (t.convex & (u > t.chord)) | (!t.convex & (u < t.chord));
            int byTangent = (t.convex & (y < t.tangent)) | (!t.convex & (y > t.tangent));
            int accept = byChord ^ t.convex;
            if (!(t.squeeze & (byChord | byTangent))) accept = y < exp(-0.5 * t.x * t.x);
            // The fresh draw, read either way and taken on rejection (as `next_word_if`).
            if (position == TAILFORGE_XOSHIRO_LANES_BUFFERED) {
                tailforge_xoshiro_lanes_refill(lanes);
                position = 0;
            }
            uint32_t fresh = (uint32_t)lanes->buffer[position];
            position += !accept;
            tailforge_ziggurat_layer freshLayer = tables->layers[fresh & LAYER_MASK];
            int32_t freshPosition = (int32_t)(fresh >> POSITION_SHIFT);
            float freshX = (float)freshPosition * freshLayer.scale;
            uint32_t freshBits;
            memcpy(&freshBits, &freshX, sizeof freshBits);
            freshBits |= (fresh & SIGN_BIT) << POSITION_BITS;
            if (accept | (freshPosition < freshLayer.limit)) {
                uint32_t keep = (uint32_t)0 - (uint32_t)accept;
                uint32_t result = (t.keptBits & keep) | (freshBits & ~keep);
                memcpy(&out[k], &result, sizeof result);
            } else {
                lanes->position = position;
                out[k] = redraw_miss(fresh, tables, source);
                position = lanes->position;
            }
        }
        lanes->position = position;
    }
}

// MARK: - Filling a buffer

/// Draws per chunk: 128 words. Part of the stream's definition (a chunk's misses take their words after the
/// chunk's 128), so it never changes.
#define CHUNK_DRAWS 256

void tailforge_normal_fill(float *out, size_t count, const tailforge_ziggurat *tables, const tailforge_word_source *source) {
    uint64_t words[CHUNK_DRAWS / 2];
    int32_t missed[CHUNK_DRAWS];
    for (size_t i = 0; i < count; i += CHUNK_DRAWS) {
        size_t draws = count - i < CHUNK_DRAWS ? count - i : CHUNK_DRAWS;
        size_t wordCount = (draws + 1) / 2;
        if (source->lanes != NULL) {
            tailforge_xoshiro_lanes_words(source->lanes, words, wordCount);
        } else {
            source->words(source->context, words, wordCount);
        }
        size_t misses = tailforge_ziggurat_box(words, draws, tables->layers, out + i, missed);
        // Redone in index order, each taking further words from the source as it needs them.
        if (source->lanes != NULL) {
            redo_misses_on_lanes(out + i, words, missed, misses, tables, source);
            continue;
        }
        for (size_t m = 0; m < misses; m++) {
            size_t k = (size_t)missed[m];
            out[i + k] = redraw_miss((uint32_t)(words[k >> 1] >> ((k & 1) << 5)), tables, source);
        }
    }
}
