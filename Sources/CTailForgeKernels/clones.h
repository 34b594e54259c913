#ifndef TAILFORGE_CLONES_H
#define TAILFORGE_CLONES_H

// Clone a loop for AVX-512 and AVX2 where the toolchain can dispatch at load time (x86-64 ELF: an ifunc
// resolved once); elsewhere (arm64) the one baseline build is vectorised with NEON by the compiler anyway.
#if defined(__x86_64__) && defined(__ELF__) && defined(__clang__)
#define TAILFORGE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TAILFORGE_CLONES
#endif

#endif
