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
    BOUNCE_BYTES = 8 << 20,    // the caller's rows are not aligned in memory: copied through this buffer
    MIN_DIRECT_BYTES = 1 << 20 // smaller raw writes are not worth a second system call per write
};

/// A file opened through the driver: its O_DIRECT descriptor (-1 once O_DIRECT failed) and bounce buffer.
typedef struct DirectFile {
    const H5FD_t *file;
    int fd;
    unsigned char *bounce;
    struct DirectFile *next;
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
    while (found && found->file != file) found = found->next;
    pthread_mutex_unlock(&files_lock);
    return found;
}

static DirectFile *take_file(const H5FD_t *file) {
    pthread_mutex_lock(&files_lock);
    DirectFile **link = &files;
    while (*link && (*link)->file != file) link = &(*link)->next;
    DirectFile *found = *link;
    if (found) *link = found->next;
    pthread_mutex_unlock(&files_lock);
    return found;
}

static H5FD_t *direct_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    H5FD_t *file = sec2->open(name, flags, fapl, maxaddr);
    if (!file) return file;
    int fd = open(name, ((flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
    if (fd < 0) return file;  // no O_DIRECT here: sec2 as it is
    DirectFile *entry = calloc(1, sizeof *entry);
    void *bounce = NULL;
    if (!entry || posix_memalign(&bounce, ALIGNMENT, BOUNCE_BYTES) != 0) {
        free(entry);
        close(fd);
        return file;
    }
    entry->file = file;
    entry->fd = fd;
    entry->bounce = bounce;
    pthread_mutex_lock(&files_lock);
    entry->next = files;
    files = entry;
    pthread_mutex_unlock(&files_lock);
    return file;
}

static herr_t direct_close(H5FD_t *file) {
    DirectFile *entry = take_file(file);
    if (entry) {
        close(entry->fd);
        free(entry->bounce);
        free(entry);
    }
    return sec2->close(file);
}

/// Writes `size` bytes at `at` from the bounce buffer; 0, or -1 with errno (EINVAL: O_DIRECT refused this write).
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

static herr_t direct_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buffer) {
    DirectFile *entry = (type == H5FD_MEM_DRAW && size >= MIN_DIRECT_BYTES) ? find_file(file) : NULL;
    if (!entry || entry->fd < 0) return sec2->write(file, type, dxpl, addr, size, buffer);
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
        memcpy(entry->bounce, bytes + (at - addr), piece);
        if (write_direct(entry->fd, entry->bounce, piece, (off_t)at) != 0) {
            if (errno != EINVAL) {
                char message[160];
                snprintf(message, sizeof message, "write of %zu bytes at offset %llu (O_DIRECT): %s", piece,
                         (unsigned long long)at, strerror(errno));
                H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_WRITEERROR, "%s", message);
                return -1;
            }
            // This filesystem took the O_DIRECT open but not the write: the rest of the file goes through sec2.
            close(entry->fd);
            entry->fd = -1;
            return sec2->write(file, type, dxpl, at, (size_t)(end - at), bytes + (at - addr));
        }
        atomic_fetch_add(&direct_bytes, piece);
        at += piece;
    }
    return sec2->write(file, type, dxpl, last, (size_t)(end - last), bytes + (last - addr));
}

static herr_t direct_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buffer) {
    DirectFile *entry = (type == H5FD_MEM_DRAW && size >= MIN_DIRECT_BYTES) ? find_file(file) : NULL;
    if (!entry || entry->fd < 0) return sec2->read(file, type, dxpl, addr, size, buffer);
    unsigned char *bytes = buffer;
    haddr_t end = addr + size;
    haddr_t first = (addr + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    haddr_t last = end / ALIGNMENT * ALIGNMENT;
    if (last <= first) return sec2->read(file, type, dxpl, addr, size, buffer);
    if (first > addr && sec2->read(file, type, dxpl, addr, (size_t)(first - addr), bytes) < 0) return -1;
    haddr_t at = first;
    while (at < last) {
        size_t piece = last - at < BOUNCE_BYTES ? (size_t)(last - at) : BOUNCE_BYTES;
        ssize_t count = pread(entry->fd, entry->bounce, piece, (off_t)at);
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
        memcpy(bytes + (at - addr), entry->bounce, piece);
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
    direct_id = H5FDregister(&direct_class);
}

hid_t tailforge_direct_write_driver(void) {
    pthread_once(&register_once, register_driver);
    return direct_id;
}

unsigned long long tailforge_direct_write_bytes(void) { return atomic_load(&direct_bytes); }

int tailforge_open_direct_read(const char *path) { return open(path, O_RDONLY | O_DIRECT | O_CLOEXEC); }

unsigned long long tailforge_direct_read_bytes(void) { return atomic_load(&direct_read_bytes); }
