#include "tailforge_kernels.h"
#include "clones.h"

#include <string.h>

#pragma clang fp contract(off)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tailforge_ziggurat_box reads a word's low half as the first draw, which assumes little-endian"
#endif


#define LANES TAILFORGE_XOSHIRO_LANES

TAILFORGE_CLONES
void tailforge_xoshiro_lanes_fill(uint64_t *restrict state, uint64_t *restrict out, size_t steps) {
    uint64_t a[LANES], b[LANES], c[LANES], d[LANES];
    for (int l = 0; l < LANES; l++) {
        a[l] = state[l];
        b[l] = state[LANES + l];
        c[l] = state[2 * LANES + l];
        d[l] = state[3 * LANES + l];
    }
    for (size_t s = 0; s < steps; s++) {
        // The reference next() of xoshiro256++ 1.0, lane by lane; the loop over lanes is what vectorises.
        for (int l = 0; l < LANES; l++) {
            uint64_t sum = a[l] + d[l];
            uint64_t result = ((sum << 23) | (sum >> 41)) + a[l];
            uint64_t t = b[l] << 17;
            c[l] ^= a[l];
            d[l] ^= b[l];
            b[l] ^= c[l];
            a[l] ^= d[l];
            c[l] ^= t;
            d[l] = (d[l] << 45) | (d[l] >> 19);
            out[s * LANES + l] = result;
        }
    }
    for (int l = 0; l < LANES; l++) {
        state[l] = a[l];
        state[LANES + l] = b[l];
        state[2 * LANES + l] = c[l];
        state[3 * LANES + l] = d[l];
    }
}

TAILFORGE_CLONES
size_t tailforge_ziggurat_box(const uint64_t *restrict words, size_t count, const float *restrict scale,
                              const int32_t *restrict limit, float *restrict out, uint8_t *restrict flags,
                              int32_t *restrict missed) {
    const unsigned char *bytes = (const unsigned char *)words;
    for (size_t k = 0; k < count; k++) {
        // Draw k is the 32-bit half k of the word array (low half first on this little-endian layout): a
        // plain contiguous load, where splitting words[k/2] made the compiler gather (twice as slow).
        uint32_t bits;
        memcpy(&bits, bytes + 4 * k, sizeof bits);
        uint32_t layer = bits & 0xFF;
        // Through int32 (exact below 2^23): one signed conversion instruction, as the Swift scalar path does.
        int32_t position = (int32_t)(bits >> 9);
        float x = (float)position * scale[layer];
        uint32_t pattern;
        memcpy(&pattern, &x, sizeof pattern);
        pattern |= (bits & 0x100) << 23;  // the sign bit (bit 8) moves to bit 31
        memcpy(&out[k], &pattern, sizeof pattern);
        flags[k] = position >= limit[layer];
    }
    // The misses as a list, eight flags per load: about one group in nine holds one.
    size_t misses = 0;
    size_t k = 0;
    for (; k + 8 <= count; k += 8) {
        uint64_t group;
        memcpy(&group, flags + k, sizeof group);
        while (group != 0) {
            missed[misses++] = (int32_t)(k + (size_t)__builtin_ctzll(group) / 8);
            group &= group - 1;
        }
    }
    for (; k < count; k++) {
        if (flags[k]) missed[misses++] = (int32_t)k;
    }
    return misses;
}

int tailforge_random_isa_level(void) {
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return 4;
    if (__builtin_cpu_supports("x86-64-v3")) return 3;
#endif
    return 1;
}
