#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few POSIX file operations the atomic writers need, as throwing calls that retry `EINTR`.
enum POSIXFile {
    static func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    /// Directory part of a path ("." when there is none).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }

    static func fileName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether two paths name the same existing file (same device and inode), however they are spelled.
    static func isSameFile(_ first: String, _ second: String) -> Bool {
        var a = stat()
        var b = stat()
        guard stat(first, &a) == 0, stat(second, &b) == 0 else { return false }
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    static func exists(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0
    }

    /// Flushes a file's (or directory's) data to stable storage.
    static func sync(_ path: String) throws(StorageError) {
        let descriptor = retryingInterrupts { open(path, O_RDONLY) }
        guard descriptor >= 0 else { throw .ioFailed(path: path, operation: "open for fsync", reason: errorText()) }
        defer { _ = close(descriptor) }
        guard retryingInterrupts({ fsync(descriptor) }) == 0 else {
            throw .ioFailed(path: path, operation: "fsync", reason: errorText())
        }
    }

    static func move(_ source: String, to destination: String) throws(StorageError) {
        guard rename(source, destination) == 0 else {
            throw .ioFailed(path: destination, operation: "rename \(source) to", reason: errorText())
        }
    }

    /// Cuts a file to length 0, releasing its blocks (best effort).
    static func truncate(_ path: String) {
        #if canImport(Glibc)
        _ = retryingInterrupts { Glibc.truncate(path, 0) }
        #else
        _ = retryingInterrupts { Darwin.truncate(path, 0) }
        #endif
    }

    static func remove(_ path: String) {
        _ = unlink(path)
    }

    static func sleep(milliseconds: Int) {
        var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    /// Writes all of `bytes` to a new file at `path` (which must not exist) and fsyncs it.
    static func create(_ path: String, contents bytes: [UInt8]) throws(StorageError) {
        let descriptor = retryingInterrupts { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
        guard descriptor >= 0 else { throw .ioFailed(path: path, operation: "create", reason: errorText()) }
        defer { _ = close(descriptor) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                Int32(truncatingIfNeeded: write(descriptor, buffer.baseAddress! + written, buffer.count - written))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw .ioFailed(path: path, operation: "write", reason: errorText())
            }
            written += Int(count)
        }
        guard retryingInterrupts({ fsync(descriptor) }) == 0 else {
            throw .ioFailed(path: path, operation: "fsync", reason: errorText())
        }
    }

    static func retryingInterrupts(_ call: () -> Int32) -> Int32 {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }
}
