import Crypto

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
}
