#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of an HDF5 file built in memory (`AtomicHDF5Writer(inMemoryNamed:)`): what the same writes would
/// have left on disk, for a file that is wanted only for its digest. Owns the buffer HDF5's core driver
/// allocated and frees it when released.
public final class HDF5FileImage: @unchecked Sendable {
    private let bytes: UnsafeMutableRawPointer
    /// The file's length in bytes.
    public let count: Int

    init(owning bytes: UnsafeMutableRawPointer, count: Int) {
        self.bytes = bytes
        self.count = count
    }

    /// Calls `body` with the file's bytes, which must not escape it.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    /// SHA-256 of the bytes, as `SHA256.hexDigest(ofFileAt:)` gives it for the file on disk.
    public var sha256: String {
        var hasher = SHA256()
        withUnsafeBytes { hasher.update($0) }
        return hasher.hexDigest()
    }

    deinit { free(bytes) }
}
