#ifndef TAILFORGE_INTERRUPT_H
#define TAILFORGE_INTERRUPT_H

// A registry of live temporary files that a SIGINT/SIGTERM/SIGHUP handler removes before the process exits
// with status 128 + signal. It is C because a signal handler may only make async-signal-safe calls: the
// handler reads fixed static slots with lock-free atomics and calls unlink() and _exit(), nothing else, which
// Swift (whose runtime may allocate or take locks on any access) cannot promise.

/// Records `path` as a live temporary file; returns its slot, or -1 when the path is too long or every slot
/// is taken (the file is then not removed on interrupt, but works otherwise).
int tailforge_temporary_register(const char *path);

/// Forgets a slot once its file was renamed into place or removed.
void tailforge_temporary_unregister(int slot);

/// Installs the handlers for SIGINT, SIGTERM and SIGHUP (a signal ignored at startup, as under nohup, stays
/// ignored). Idempotent.
void tailforge_temporary_remove_on_interrupt(void);

/// How many slots are live (for tests).
int tailforge_temporary_live_count(void);

#endif
