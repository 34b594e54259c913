#ifndef TAILFORGE_CLONES_H
#define TAILFORGE_CLONES_H

// Clone a loop for AVX-512 and AVX2 where the toolchain can dispatch at load time (x86-64 ELF: an ifunc
// resolved once); elsewhere (arm64) the one baseline build is vectorised with NEON by the compiler anyway.
#if defined(__x86_64__) && defined(__ELF__) && defined(__clang__)
#define TAILFORGE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TAILFORGE_CLONES
#endif

/// The instruction-set level of this CPU: 4 (x86-64-v4, AVX-512), 3 (x86-64-v3, AVX2) or 1 (anything else). Inline
/// so that an ifunc resolver, which runs before relocations are done, can call it.
static inline int tailforge_isa_level(void) {
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return 4;
    if (__builtin_cpu_supports("x86-64-v3")) return 3;
#endif
    return 1;
}

#endif
