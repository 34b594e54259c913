#ifndef TAILFORGE_INTERRUPT_H
#define TAILFORGE_INTERRUPT_H

// A registry of live temporary files that a SIGINT/SIGTERM/SIGHUP handler removes before the process exits
// with status 128 + signal. It is C because a signal handler may only make async-signal-safe calls: the
// handler reads fixed static slots with lock-free atomics and makes only system calls (unlink(), a scratch
// directory's listing and removal, _exit()), which
// Swift (whose runtime may allocate or take locks on any access) cannot promise.

/// Records `path` as a live temporary file; returns its slot, or -1 when the path is too long or every slot
/// is taken (the file is then not removed on interrupt, but works otherwise).
int tailforge_temporary_register(const char *path);

/// Records `path` as a scratch directory this process created for itself: the handler removes it and
/// everything in it (four levels deep; on Linux — elsewhere only when empty), after the temporary files.
/// Returns its slot as `tailforge_temporary_register` does.
int tailforge_scratch_directory_register(const char *path);

/// Forgets a slot once its file was renamed into place or removed (or its directory removed).
void tailforge_temporary_unregister(int slot);

/// Installs the handlers for SIGINT, SIGTERM and SIGHUP (a signal ignored at startup, as under nohup, stays
/// ignored). Idempotent.
void tailforge_temporary_remove_on_interrupt(void);

/// Does now what the handler does: removes every registered file and scratch directory and ends the process
/// with status 128 + `signal_number`.
_Noreturn void tailforge_temporary_remove_and_exit(int signal_number);

/// From now on the handler writes the signal's number (one byte) to `descriptor` and returns, instead of removing
/// and exiting, so that a thread reading the other end can first do what a signal handler may not (tell a
/// coordinator to cancel this process's jobs) and then call `tailforge_temporary_remove_and_exit`. -1 restores
/// the handler's own removal; so does a write that fails. Only the first signal is forwarded: a second one (Ctrl-C
/// pressed again while the forwarded work hangs) removes and exits at once.
void tailforge_temporary_forward_interrupts(int descriptor);

/// How many temporary files are registered (for tests; scratch directories are not counted).
int tailforge_temporary_live_count(void);

#endif
