#include "tailforge_interrupt.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

enum { slot_count = 256, path_capacity = 4096 };
enum { slot_free = 0, slot_claimed = 1, slot_live = 2 };

static _Atomic int states[slot_count];
static char paths[slot_count][path_capacity];
static atomic_flag installed = ATOMIC_FLAG_INIT;

int tailforge_temporary_register(const char *path) {
    size_t length = strlen(path);
    if (length >= path_capacity) return -1;
    for (int slot = 0; slot < slot_count; slot++) {
        int expected = slot_free;
        if (atomic_compare_exchange_strong(&states[slot], &expected, slot_claimed)) {
            memcpy(paths[slot], path, length + 1);
            atomic_store(&states[slot], slot_live);
            return slot;
        }
    }
    return -1;
}

void tailforge_temporary_unregister(int slot) {
    if (slot >= 0 && slot < slot_count) atomic_store(&states[slot], slot_free);
}

int tailforge_temporary_live_count(void) {
    int live = 0;
    for (int slot = 0; slot < slot_count; slot++) live += atomic_load(&states[slot]) == slot_live;
    return live;
}

// Runs on whichever thread the signal lands on, possibly mid-write: unlink() leaves an open descriptor valid,
// and _exit() skips atexit handlers (HDF5's would flush the very file being removed, from another thread).
static void remove_and_exit(int signal_number) {
    for (int slot = 0; slot < slot_count; slot++) {
        if (atomic_load(&states[slot]) == slot_live) unlink(paths[slot]);
    }
    _exit(128 + signal_number);
}

void tailforge_temporary_remove_on_interrupt(void) {
    if (atomic_flag_test_and_set(&installed)) return;
    const int signals[] = {SIGINT, SIGTERM, SIGHUP};
    // A process started from a thread that blocks signals (a thread pool's worker, as in a Swift or Java
    // launcher) inherits that mask: the signal would stay pending and the process finish as if never asked to
    // stop. Unblock the three in the calling (main) thread: the kernel hands a process-wide signal to any thread
    // that accepts it, and threads started later inherit this mask.
    sigset_t handled;
    sigemptyset(&handled);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaddset(&handled, signals[i]);
    sigprocmask(SIG_UNBLOCK, &handled, NULL);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction previous;
        if (sigaction(signals[i], NULL, &previous) == 0 && previous.sa_handler == SIG_IGN) continue;
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = remove_and_exit;
        sigemptyset(&action.sa_mask);
        for (size_t j = 0; j < sizeof signals / sizeof signals[0]; j++) sigaddset(&action.sa_mask, signals[j]);
        sigaction(signals[i], &action, NULL);
    }
}
