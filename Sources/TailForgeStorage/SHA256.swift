import CTailForgeDirectWrite
import Crypto
import TailForgeNumerics

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streaming SHA-256 (FIPS 180-4) over swift-crypto, used for input, output, shard and dataset-content digests.
///
/// On Linux swift-crypto runs BoringSSL's assembly, which uses the SHA extensions (SHA-NI) where the CPU has them;
/// the hand-written Swift rounds it replaces ran at 88–190 MB/s, which made a digest of a 5.6 GB output cost more
/// than the balancing. This wrapper keeps the API the rest of TailForge uses (a value type whose `finalize()` leaves
/// the hasher usable, hex digests of byte sequences and files).
///
/// `@unchecked Sendable`: swift-crypto's hasher is not marked Sendable on Linux, but it is a copy-on-write value
/// (a private context class copied on any mutation unless uniquely referenced, and only read by `finalize()`),
/// so copies on different threads never share mutable state — the same reasoning that makes `Array` Sendable.
public struct SHA256: @unchecked Sendable {
    private var hasher = Crypto.SHA256()

    public init() {}

    /// Feeds more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// Feeds the in-memory bytes of `values` (native byte order: little-endian on every platform TailForge runs on,
    /// the order HDF5 stores its numeric datasets in).
    public mutating func update<Element: BitwiseCopyable>(elementsOf values: UnsafeBufferPointer<Element>) {
        update(UnsafeRawBufferPointer(values))
    }

    /// The 32-byte digest of everything fed so far (the hasher itself is left unchanged).
    public func finalize() -> [UInt8] {
        Array(hasher.finalize())  // swift-crypto's finalize() leaves the hasher as it was
    }

    /// Lower-case hexadecimal digest.
    public func hexDigest() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(64)
        for byte in finalize() {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Digest of a byte sequence.
    public static func hexDigest<Bytes: Sequence>(of bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.hexDigest()
    }

    /// Digest of a file's contents, read in 1 MiB blocks.
    public static func hexDigest(ofFileAt path: String) throws(StorageError) -> String {
        let descriptor = try openForDigest(path)
        defer { _ = close(descriptor) }
        return try hexDigest(ofOpenFile: descriptor, path: path)
    }

    /// Opens `path` for ``hexDigest(ofOpenFile:path:)``.
    static func openForDigest(_ path: String) throws(StorageError) -> Int32 {
        let descriptor = POSIXFile.retryingInterrupts { open(path, O_RDONLY) }
        guard descriptor >= 0 else {
            if errno == ENOENT { throw .missingFile(path: path) }
            throw .ioFailed(path: path, operation: "open", reason: POSIXFile.errorText())
        }
        return descriptor
    }

    /// Digest of an open file read from its current offset to the end (`path` names it in errors); the caller
    /// closes it. A file renamed or removed meanwhile is still read whole.
    static func hexDigest(ofOpenFile descriptor: Int32, path: String) throws(StorageError) -> String {
        var hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw .ioFailed(path: path, operation: "read", reason: POSIXFile.errorText())
            }
            if count == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return hasher.hexDigest()
    }

    /// Opens `path` for ``hexDigestPastPageCache(ofOpenFile:path:)``, or nil where the filesystem refuses O_DIRECT.
    static func openForDigestPastPageCache(_ path: String) -> Int32? {
        let descriptor = POSIXFile.retryingInterrupts { tailforge_open_direct_read(path) }
        return descriptor >= 0 ? descriptor : nil
    }

    /// Digest of a file opened with ``openForDigestPastPageCache(_:)``, read from its start to its end in 32 MiB blocks (8 MiB ones came from the disk at half the speed)
    /// while the block before is hashed. For a file just written past the page cache (``HDF5File``'s driver): a plain
    /// read would pull its gigabytes into the page cache, at a system-time cost larger than the hashing, and read
    /// and hash one after the other.
    static func hexDigestPastPageCache(ofOpenFile descriptor: Int32, path: String) throws(StorageError) -> String {
        let blockBytes = 32 << 20, alignment = 4096
        // Each step hashes one block on one thread and fills the other on another: never the same block at once.
        nonisolated(unsafe) let blocks = [UnsafeMutableRawBufferPointer.allocate(byteCount: blockBytes, alignment: alignment),
                                          UnsafeMutableRawBufferPointer.allocate(byteCount: blockBytes, alignment: alignment)]
        defer { blocks.forEach { $0.deallocate() } }
        /// What both threads of a step touch: the hasher on one, the other block's byte count on the other.
        final class Progress: @unchecked Sendable {
            var hasher = SHA256()
            var counts = [0, 0]
            var failure: StorageError?
        }
        let progress = Progress()
        /// Fills block `index` from `offset` (O_DIRECT: aligned offsets and lengths; a count that is not a multiple
        /// of the alignment is the end of the file). Returns the bytes read.
        @Sendable func fill(_ index: Int, from offset: Int) -> Int {
            guard offset % alignment == 0 else { return 0 }  // the previous block ended at the file's unaligned end
            var filled = 0
            while filled < blockBytes {
                let count = pread(descriptor, blocks[index].baseAddress! + filled, blockBytes - filled, off_t(offset + filled))
                if count < 0 {
                    if errno == EINTR { continue }
                    progress.failure = .ioFailed(path: path, operation: "read", reason: POSIXFile.errorText())
                    return 0
                }
                filled += count
                if count == 0 || count % alignment != 0 { break }
            }
            return filled
        }
        var current = 0
        var offset = fill(0, from: 0)
        progress.counts[0] = offset
        while progress.failure == nil, progress.counts[current] > 0 {
            let next = 1 - current, readFrom = offset, hashing = current
            ComputePool.forEach(2, width: 2) { (part: Int) in
                if part == 0 {
                    progress.hasher.update(UnsafeRawBufferPointer(rebasing: blocks[hashing][0..<progress.counts[hashing]]))
                } else {
                    progress.counts[next] = fill(next, from: readFrom)
                }
            }
            offset += progress.counts[next]
            current = next
        }
        if let failure = progress.failure { throw failure }
        return progress.hasher.hexDigest()
    }
}
