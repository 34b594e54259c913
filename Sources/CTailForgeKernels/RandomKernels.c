#include "tailforge_kernels.h"
#include "clones.h"

#include <string.h>

#pragma clang fp contract(off)


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

void tailforge_xoshiro_lanes_refill(tailforge_xoshiro_lanes *generator) {
    tailforge_xoshiro_lanes_fill(generator->state, generator->buffer, 4);
    generator->position = 0;
}

void tailforge_xoshiro_lanes_words(tailforge_xoshiro_lanes *generator, uint64_t *out, size_t count) {
    // Block copies of the buffer (through a local position: `out` may alias the buffer as far as the compiler
    // knows, so a field updated per word would be stored and reloaded every time).
    size_t position = (size_t)generator->position;
    size_t buffered = TAILFORGE_XOSHIRO_LANES_BUFFERED - position;
    size_t first = count < buffered ? count : buffered;
    memcpy(out, generator->buffer + position, first * sizeof *out);
    size_t i = first;
    position += first;
    size_t steps = (count - i) / LANES;
    if (steps > 0) {
        tailforge_xoshiro_lanes_fill(generator->state, out + i, steps);
        i += steps * LANES;
    }
    if (i < count) {
        tailforge_xoshiro_lanes_fill(generator->state, generator->buffer, 4);
        position = count - i;
        memcpy(out + i, generator->buffer, position * sizeof *out);
    }
    generator->position = (int64_t)position;
}

int tailforge_random_isa_level(void) { return tailforge_isa_level(); }
