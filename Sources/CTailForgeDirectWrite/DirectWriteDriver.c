#define _GNU_SOURCE
#include "tailforge_direct_write.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Why: a full balanced file is gigabytes written once and read once or twice (its digest, a training run). Through
// the page cache the kernel copies every byte (on a virtual machine also backing fresh guest pages), which cost more
// system CPU than the whole sequential write (`dd`) and swung 3x from run to run; O_DIRECT hands the pages to the
// device. Reads of large raw blocks go the same way, so a file written past the cache is not read through it
// either (cold, it came from the disk at half the speed and paid the copy).

enum {
    ALIGNMENT = 4096,          // offsets, lengths and the buffer: the page size covers every block size in use
    BOUNCE_BYTES = 8 << 20,    // the caller's rows are not aligned in memory: copied through these buffers
    MIN_DIRECT_BYTES = 1 << 20 // smaller raw writes are not worth a second system call per write
};

/// A file opened through the driver: its O_DIRECT descriptor (-1 once O_DIRECT failed), two bounce buffers, and the
/// one write in flight. An O_DIRECT write returns when the device has the bytes, so a synchronous one leaves the
/// caller idle for the whole transfer (half of `balance`'s writing thread's time at Places-LT scale): each aligned
/// piece is copied into one buffer and handed to the file's writer thread, and the caller goes on (copying the next
/// piece into the other buffer, or back to its own work) while the device takes it. Every other access to the
/// file's bytes that could meet the piece in flight waits for it first (`settle`), and so do flush, truncate and
/// close; a failed write is reported by the next call on the file, with its errno.
typedef struct DirectFile {
    const H5FD_t *file;
    int sec2_fd;               // sec2's own descriptor: how `tailforge_direct_write_settle` finds the file from an id
    int fd;
    unsigned char *bounce[2];  // allocated at the first large transfer
    int next;                  // the buffer the next piece is copied into (the other one may be in flight)
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pthread_t writer;
    int has_writer, stop;
    int pending;               // a piece is with the writer thread
    const unsigned char *pending_bytes;
    size_t pending_size;
    haddr_t pending_at;
    int failed_errno;          // the writer's failed piece, until `settle` redoes or reports it
    const unsigned char *failed_bytes;
    size_t failed_size;
    haddr_t failed_at;
    struct DirectFile *next_file;
} DirectFile;

static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static DirectFile *files;
static const H5FD_class_t *sec2;
static H5FD_class_t direct_class;
static hid_t direct_id = -1;
static atomic_ullong direct_bytes;
static atomic_ullong direct_read_bytes;

static DirectFile *find_file(const H5FD_t *file) {
    pthread_mutex_lock(&files_lock);
    DirectFile *found = files;
    while (found && found->file != file) found = found->next_file;
    pthread_mutex_unlock(&files_lock);
    return found;
}

static DirectFile *take_file(const H5FD_t *file) {
    pthread_mutex_lock(&files_lock);
    DirectFile **link = &files;
    while (*link && (*link)->file != file) link = &(*link)->next_file;
    DirectFile *found = *link;
    if (found) *link = found->next_file;
    pthread_mutex_unlock(&files_lock);
    return found;
}

static H5FD_t *direct_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    H5FD_t *file = sec2->open(name, flags, fapl, maxaddr);
    if (!file) return file;
    int fd = open(name, ((flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
    if (fd < 0) return file;  // no O_DIRECT here: sec2 as it is
    DirectFile *entry = calloc(1, sizeof *entry);
    if (!entry) {
        close(fd);
        return file;
    }
    void *handle = NULL;
    entry->file = file;
    entry->sec2_fd = sec2->get_handle && sec2->get_handle(file, fapl, &handle) >= 0 && handle ? *(int *)handle : -1;
    entry->fd = fd;
    pthread_mutex_init(&entry->lock, NULL);
    pthread_cond_init(&entry->changed, NULL);
    pthread_mutex_lock(&files_lock);
    entry->next_file = files;
    files = entry;
    pthread_mutex_unlock(&files_lock);
    return file;
}

/// Writes `size` bytes at `at` from a bounce buffer; 0, or -1 with errno (EINVAL: O_DIRECT refused this write).
static int write_direct(int fd, const unsigned char *bytes, size_t size, off_t at) {
    size_t done = 0;
    while (done < size) {
        ssize_t written = pwrite(fd, bytes + done, size - done, at + (off_t)done);
        if (written < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (written == 0 || written % ALIGNMENT != 0) {
            // A short write that leaves the rest unaligned cannot continue past the page cache.
            errno = EINVAL;
            return -1;
        }
        done += (size_t)written;
    }
    return 0;
}

/// Writes one piece from its bounce buffer and records a failure for `settle`. Called without the lock held.
static void write_piece(DirectFile *entry, const unsigned char *bytes, size_t size, haddr_t at) {
    int error = write_direct(entry->fd, bytes, size, (off_t)at) == 0 ? 0 : errno;
    if (!error) {
        atomic_fetch_add(&direct_bytes, size);
        return;
    }
    pthread_mutex_lock(&entry->lock);
    entry->failed_errno = error;
    entry->failed_bytes = bytes;
    entry->failed_size = size;
    entry->failed_at = at;
    pthread_mutex_unlock(&entry->lock);
}

static void *writer_main(void *argument) {
    DirectFile *entry = argument;
    pthread_mutex_lock(&entry->lock);
    for (;;) {
        while (!entry->pending && !entry->stop) pthread_cond_wait(&entry->changed, &entry->lock);
        if (!entry->pending) break;
        pthread_mutex_unlock(&entry->lock);
        write_piece(entry, entry->pending_bytes, entry->pending_size, entry->pending_at);
        pthread_mutex_lock(&entry->lock);
        entry->pending = 0;
        pthread_cond_broadcast(&entry->changed);
    }
    pthread_mutex_unlock(&entry->lock);
    return NULL;
}

/// The first `count` bounce buffers (writes use two, reads one: a file only read holds 8 MiB).
static int allocate_buffers(DirectFile *entry, int count) {
    for (int i = 0; i < count; i++) {
        void *buffer = NULL;
        if (!entry->bounce[i] && posix_memalign(&buffer, ALIGNMENT, BOUNCE_BYTES) != 0) return -1;
        if (buffer) entry->bounce[i] = buffer;
    }
    return 0;
}

/// Waits for the piece in flight. A piece O_DIRECT refused (EINVAL: the filesystem took the open but not the write)
/// is written again through sec2 from its buffer, which nothing reuses before this, and the rest of the file goes
/// through sec2. Any other failure is reported once, on HDF5's error stack, by the first large raw-data transfer,
/// flush or truncate that finds it (`report`): HDF5 1.10 propagates those with their message, while a failure in
/// a metadata write or a small dataset's chunk flushed by H5Dclose reaches the caller without it (seen: "close
/// dataset failed" with an empty stack), and failing every call after it leads HDF5 into error paths that crash.
///
/// Returns 0, or the errno of the failure it reports, with `message` describing it.
static int settle_failure(H5FD_t *file, DirectFile *entry, int report, char *message, size_t capacity) {
    pthread_mutex_lock(&entry->lock);
    while (entry->pending) pthread_cond_wait(&entry->changed, &entry->lock);
    int error = entry->failed_errno;
    pthread_mutex_unlock(&entry->lock);
    if (!error || (error != EINVAL && !report)) return 0;
    entry->failed_errno = 0;
    if (error == EINVAL) {
        close(entry->fd);
        entry->fd = -1;
        if (sec2->write(file, H5FD_MEM_DRAW, H5P_DEFAULT, entry->failed_at, entry->failed_size, entry->failed_bytes) >= 0) {
            return 0;
        }
        snprintf(message, capacity, "write of %zu bytes at offset %llu through sec2 after O_DIRECT refused it",
                 entry->failed_size, (unsigned long long)entry->failed_at);
        return EIO;
    }
    snprintf(message, capacity, "write of %zu bytes at offset %llu (O_DIRECT): %s", entry->failed_size,
             (unsigned long long)entry->failed_at, strerror(error));
    return error;
}

/// `settle_failure` for the driver's callbacks: the failure goes on HDF5's error stack.
static herr_t settle(H5FD_t *file, DirectFile *entry, int report) {
    char message[160];
    if (settle_failure(file, entry, report, message, sizeof message) == 0) return 0;
    H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_WRITEERROR, "%s", message);
    return -1;
}

int tailforge_direct_write_settle(hid_t file_id, char *message, size_t capacity) {
    if (capacity > 0) message[0] = 0;
    if (direct_id < 0) return 0;
    hid_t fapl = H5Fget_access_plist(file_id);
    if (fapl < 0) return 0;
    int ours = H5Pget_driver(fapl) == direct_id;
    H5Pclose(fapl);
    void *handle = NULL;
    if (!ours || H5Fget_vfd_handle(file_id, H5P_DEFAULT, &handle) < 0 || !handle) return 0;
    int sec2_fd = *(int *)handle;
    pthread_mutex_lock(&files_lock);
    DirectFile *entry = files;
    while (entry && entry->sec2_fd != sec2_fd) entry = entry->next_file;
    pthread_mutex_unlock(&files_lock);
    return entry ? settle_failure((H5FD_t *)entry->file, entry, 1, message, capacity) : 0;
}

/// Waits for the piece in flight if [addr, addr + size) meets it (HDF5 may rewrite or read back any range), and
/// with `report` fails if an earlier piece failed.
static herr_t settle_if_overlapping(H5FD_t *file, DirectFile *entry, haddr_t addr, size_t size, int report) {
    if (!entry) return 0;
    pthread_mutex_lock(&entry->lock);
    int meets = (entry->pending && addr < entry->pending_at + entry->pending_size && entry->pending_at < addr + size)
                || (report && entry->failed_errno);
    pthread_mutex_unlock(&entry->lock);
    return meets ? settle(file, entry, report) : 0;
}

static herr_t submit(DirectFile *entry, const unsigned char *bytes, size_t size, haddr_t at) {
    if (!entry->has_writer) {
        if (pthread_create(&entry->writer, NULL, writer_main, entry) != 0) {
            write_piece(entry, bytes, size, at);  // no thread for it: this piece is written here and now
            return 0;
        }
        entry->has_writer = 1;
    }
    pthread_mutex_lock(&entry->lock);
    entry->pending_bytes = bytes;
    entry->pending_size = size;
    entry->pending_at = at;
    entry->pending = 1;
    pthread_cond_broadcast(&entry->changed);
    pthread_mutex_unlock(&entry->lock);
    return 0;
}

/// Close itself never fails for a failed piece: HDF5 flushes and truncates through the driver first, which report
/// it, and a failed close leaves HDF5 holding a file whose sec2 half is already gone (a retry would free it twice).
static herr_t direct_close(H5FD_t *file) {
    DirectFile *entry = take_file(file);
    if (entry) {
        char unreported[160];
        settle_failure(file, entry, 0, unreported, sizeof unreported);  // waits; reports nothing (see above)
        if (entry->has_writer) {
            pthread_mutex_lock(&entry->lock);
            entry->stop = 1;
            pthread_cond_broadcast(&entry->changed);
            pthread_mutex_unlock(&entry->lock);
            pthread_join(entry->writer, NULL);
        }
        if (entry->fd >= 0) close(entry->fd);
        pthread_cond_destroy(&entry->changed);
        pthread_mutex_destroy(&entry->lock);
        free(entry->bounce[0]);
        free(entry->bounce[1]);
        free(entry);
    }
    return sec2->close(file);
}

static herr_t direct_flush(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    DirectFile *entry = find_file(file);
    if (entry && settle(file, entry, 1) < 0) return -1;
    return sec2->flush ? sec2->flush(file, dxpl, closing) : 0;
}

static herr_t direct_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    DirectFile *entry = find_file(file);
    if (entry && settle(file, entry, 1) < 0) return -1;
    return sec2->truncate ? sec2->truncate(file, dxpl, closing) : 0;
}

static herr_t direct_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buffer) {
    DirectFile *entry = find_file(file);
    if (settle_if_overlapping(file, entry, addr, size, type == H5FD_MEM_DRAW && size >= MIN_DIRECT_BYTES) < 0) return -1;
    if (!entry || entry->fd < 0 || type != H5FD_MEM_DRAW || size < MIN_DIRECT_BYTES || allocate_buffers(entry, 2) != 0) {
        return sec2->write(file, type, dxpl, addr, size, buffer);
    }
    const unsigned char *bytes = buffer;
    haddr_t end = addr + size;
    haddr_t first = (addr + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    haddr_t last = end / ALIGNMENT * ALIGNMENT;
    if (last == end) last -= ALIGNMENT;  // sec2 writes the last bytes, so its end of file is this write's end
    if (last <= first) return sec2->write(file, type, dxpl, addr, size, buffer);
    if (first > addr && sec2->write(file, type, dxpl, addr, (size_t)(first - addr), bytes) < 0) return -1;
    haddr_t at = first;
    while (at < last) {
        size_t piece = last - at < BOUNCE_BYTES ? (size_t)(last - at) : BOUNCE_BYTES;
        unsigned char *bounce = entry->bounce[entry->next];
        memcpy(bounce, bytes + (at - addr), piece);  // beside the previous piece's transfer
        if (settle(file, entry, 1) < 0) return -1;
        if (entry->fd < 0) return sec2->write(file, type, dxpl, at, (size_t)(end - at), bytes + (at - addr));
        submit(entry, bounce, piece, at);
        entry->next ^= 1;
        at += piece;
    }
    // The last piece may still be in flight: the caller's buffer is not needed for it (it is in a bounce buffer).
    return sec2->write(file, type, dxpl, last, (size_t)(end - last), bytes + (last - addr));
}

static herr_t direct_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buffer) {
    DirectFile *entry = find_file(file);
    if (settle_if_overlapping(file, entry, addr, size, type == H5FD_MEM_DRAW && size >= MIN_DIRECT_BYTES) < 0) return -1;
    if (!entry || entry->fd < 0 || type != H5FD_MEM_DRAW || size < MIN_DIRECT_BYTES) {
        return sec2->read(file, type, dxpl, addr, size, buffer);
    }
    // The bounce buffers are free once nothing is in flight.
    if (settle(file, entry, 1) < 0) return -1;
    if (entry->fd < 0 || allocate_buffers(entry, 1) != 0) return sec2->read(file, type, dxpl, addr, size, buffer);
    unsigned char *bytes = buffer;
    haddr_t end = addr + size;
    haddr_t first = (addr + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    haddr_t last = end / ALIGNMENT * ALIGNMENT;
    if (last <= first) return sec2->read(file, type, dxpl, addr, size, buffer);
    if (first > addr && sec2->read(file, type, dxpl, addr, (size_t)(first - addr), bytes) < 0) return -1;
    haddr_t at = first;
    while (at < last) {
        size_t piece = last - at < BOUNCE_BYTES ? (size_t)(last - at) : BOUNCE_BYTES;
        ssize_t count = pread(entry->fd, entry->bounce[0], piece, (off_t)at);
        if (count < 0 && errno == EINTR) continue;
        if (count != (ssize_t)piece) {
            // Past the end of the file (sec2 gives zeros there), a short read, or O_DIRECT refused: sec2 reads the rest.
            if (count < 0 && errno != EINVAL) {
                char message[160];
                snprintf(message, sizeof message, "read of %zu bytes at offset %llu (O_DIRECT): %s", piece,
                         (unsigned long long)at, strerror(errno));
                H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_READERROR, "%s", message);
                return -1;
            }
            return sec2->read(file, type, dxpl, at, (size_t)(end - at), bytes + (at - addr));
        }
        memcpy(bytes + (at - addr), entry->bounce[0], piece);
        atomic_fetch_add(&direct_read_bytes, piece);
        at += piece;
    }
    return last < end ? sec2->read(file, type, dxpl, last, (size_t)(end - last), bytes + (last - addr)) : 0;
}

static pthread_once_t register_once = PTHREAD_ONCE_INIT;

/// sec2's table of callbacks. HDF5 has no public call that returns a driver's class (H5Iobject_verify refuses
/// library ids), but every open driver file points to it: open /dev/null through sec2 once and keep the pointer,
/// which stays valid while the library runs.
static const H5FD_class_t *sec2_class(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return NULL;
    const H5FD_class_t *found = NULL;
    if (H5Pset_fapl_sec2(fapl) >= 0) {
        H5FD_t *probe = H5FDopen("/dev/null", H5F_ACC_RDONLY, fapl, HADDR_UNDEF);
        if (probe) {
            found = probe->cls;
            H5FDclose(probe);
        }
    }
    H5Pclose(fapl);
    return found;
}

static void register_driver(void) {
    sec2 = sec2_class();
    if (!sec2) return;
    direct_class = *sec2;
    direct_class.name = "tailforge_direct_write";
    direct_class.terminate = NULL;  // sec2's own terminate belongs to sec2
    direct_class.open = direct_open;
    direct_class.close = direct_close;
    direct_class.write = direct_write;
    direct_class.read = direct_read;
    direct_class.flush = direct_flush;
    direct_class.truncate = direct_truncate;
    direct_id = H5FDregister(&direct_class);
}

hid_t tailforge_direct_write_driver(void) {
    pthread_once(&register_once, register_driver);
    return direct_id;
}

unsigned long long tailforge_direct_write_bytes(void) { return atomic_load(&direct_bytes); }

int tailforge_open_direct_read(const char *path) { return open(path, O_RDONLY | O_DIRECT | O_CLOEXEC); }

unsigned long long tailforge_direct_read_bytes(void) { return atomic_load(&direct_read_bytes); }
