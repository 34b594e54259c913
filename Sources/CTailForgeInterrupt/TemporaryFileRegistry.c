#include "tailforge_interrupt.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

enum { slot_count = 256, path_capacity = 4096 };
/// A live slot holds a temporary file, or a scratch directory removed with its contents after the files.
enum { slot_free = 0, slot_claimed = 1, slot_live = 2, slot_live_directory = 3 };

static _Atomic int states[slot_count];
static char paths[slot_count][path_capacity];
static atomic_flag installed = ATOMIC_FLAG_INIT;

static int claim(const char *path, int kind) {
    size_t length = strlen(path);
    if (length >= path_capacity) return -1;
    for (int slot = 0; slot < slot_count; slot++) {
        int expected = slot_free;
        if (atomic_compare_exchange_strong(&states[slot], &expected, slot_claimed)) {
            memcpy(paths[slot], path, length + 1);
            atomic_store(&states[slot], kind);
            return slot;
        }
    }
    return -1;
}

int tailforge_temporary_register(const char *path) { return claim(path, slot_live); }

int tailforge_scratch_directory_register(const char *path) { return claim(path, slot_live_directory); }

void tailforge_temporary_unregister(int slot) {
    if (slot >= 0 && slot < slot_count) atomic_store(&states[slot], slot_free);
}

#if defined(__linux__)
/// One record of getdents64 (the kernel's struct linux_dirent64, which glibc does not declare).
struct directory_record {
    uint64_t inode;
    int64_t offset;
    unsigned short length;
    unsigned char type;
    char name[];
};

/// Removes everything in the directory open as `directory`, and in its subdirectories down to `depth` more
/// levels, with system calls only (opendir and nftw allocate, which a signal handler must not). Entries removed
/// while the directory is being listed can make the listing skip others, so it is listed again until a pass
/// removes nothing.
static void empty_directory(int directory, int depth) {
    char buffer[4096] __attribute__((aligned(8)));
    for (int pass = 0; pass < 8; pass++) {
        int removed = 0;
        lseek(directory, 0, SEEK_SET);
        long size;
        while ((size = syscall(SYS_getdents64, directory, buffer, sizeof buffer)) > 0) {
            for (long at = 0; at < size;) {
                const struct directory_record *record = (const struct directory_record *)(buffer + at);
                at += record->length;
                const char *name = record->name;
                if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
                if (unlinkat(directory, name, 0) == 0) { removed++; continue; }
                if (depth == 0) continue;
                int child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (child < 0) continue;
                empty_directory(child, depth - 1);
                close(child);
                if (unlinkat(directory, name, AT_REMOVEDIR) == 0) removed++;
            }
        }
        if (removed == 0) return;
    }
}
#endif

static void remove_directory(const char *path) {
#if defined(__linux__)
    int directory = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (directory >= 0) {
        empty_directory(directory, 4);
        close(directory);
    }
#endif
    rmdir(path);
}

int tailforge_temporary_live_count(void) {
    int live = 0;
    for (int slot = 0; slot < slot_count; slot++) live += atomic_load(&states[slot]) == slot_live;
    return live;
}

// Runs on whichever thread the signal lands on, possibly mid-write: unlink() leaves an open descriptor valid,
// and _exit() skips atexit handlers (HDF5's would flush the very file being removed, from another thread).
_Noreturn void tailforge_temporary_remove_and_exit(int signal_number) {
    for (int slot = 0; slot < slot_count; slot++) {
        if (atomic_load(&states[slot]) == slot_live) unlink(paths[slot]);
    }
    for (int slot = 0; slot < slot_count; slot++) {
        if (atomic_load(&states[slot]) == slot_live_directory) remove_directory(paths[slot]);
    }
    _exit(128 + signal_number);
}

/// Where the handler forwards signals instead of acting on them (-1: nowhere).
static _Atomic int forward_descriptor = -1;

void tailforge_temporary_forward_interrupts(int descriptor) { atomic_store(&forward_descriptor, descriptor); }

/// Set by the first forwarded signal: the cleanup it started may hang (a coordinator that does not answer), so a
/// second Ctrl-C acts at once, as a user pressing it again expects.
static atomic_flag forwarded = ATOMIC_FLAG_INIT;

static void handle_interrupt(int signal_number) {
    int descriptor = atomic_load(&forward_descriptor);
    unsigned char number = (unsigned char)signal_number;
    // write() is async-signal-safe; if the byte cannot be written, nobody will act on it: act here.
    if (descriptor >= 0 && !atomic_flag_test_and_set(&forwarded) && write(descriptor, &number, 1) == 1) return;
    tailforge_temporary_remove_and_exit(signal_number);
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
        action.sa_handler = handle_interrupt;
        sigemptyset(&action.sa_mask);
        for (size_t j = 0; j < sizeof signals / sizeof signals[0]; j++) sigaddset(&action.sa_mask, signals[j]);
        sigaction(signals[i], &action, NULL);
    }
}
