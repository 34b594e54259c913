#ifndef TAILFORGE_FUZZER_H
#define TAILFORGE_FUZZER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's documented entry point for a program that has its own main (Swift executables always do, so
// libFuzzer's main is never linked in). Only defined when the program is linked with -sanitize=fuzzer; the
// plain build of `tailforge-fuzz` never calls it, so the declaration alone costs nothing there.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
