#ifndef TAILFORGE_DIRECT_WRITE_H
#define TAILFORGE_DIRECT_WRITE_H
#include <hdf5.h>

/// HDF5's own sec2 driver with one change: the 4096-byte-aligned middle of every raw-data write or read of at least
/// 1 MiB (a chunk of rows) goes through a second descriptor opened with O_DIRECT, past the page cache; metadata,
/// small transfers and each large one's unaligned head and tail go through sec2 as before. Every byte lands at (and
/// comes from) the offset sec2 would use, and sec2 keeps its bookkeeping (a write's tail is always written by it),
/// so the file's bytes are sec2's bytes. Filesystems that refuse O_DIRECT (tmpfs before Linux 6.6) use sec2
/// unchanged.
///
/// Returns the driver's id for `H5Pset_driver(fapl, id, NULL)`, registering it on the first call (negative, with
/// an HDF5 error on the stack, if that fails). Call it where HDF5 calls are serialised.
hid_t tailforge_direct_write_driver(void);

/// Waits until every write past the page cache to the open file `file_id` has reached the device. The driver
/// finishes each write's last aligned piece on a writer thread while HDF5 goes on, and reports a failed piece from
/// the next large transfer, flush or truncate; a writer calls this after its last rows (its datasets closed) and
/// before flushing and closing the file, so that a failure (a full disk) is reported there, with its cause, and not
/// from inside H5Fclose, which HDF5 1.10 does not recover from. Returns 0, or an errno with `message` filled.
/// Call it where HDF5 calls are serialised.
int tailforge_direct_write_settle(hid_t file_id, char *message, size_t capacity);

/// Bytes this process has written / read past the page cache so far (for tests and benchmarks).
unsigned long long tailforge_direct_write_bytes(void);
unsigned long long tailforge_direct_read_bytes(void);

/// Opens `path` for reading past the page cache (O_DIRECT): -1 with errno where the filesystem refuses it. Reads
/// need 4096-byte-aligned offsets, lengths and buffers; a file written by the driver is read back this way for its
/// digest, so that the read does not pull gigabytes into the page cache either.
int tailforge_open_direct_read(const char *path);

#endif
