#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streaming SHA-256 (FIPS 180-4), pure Swift, used to record the input file's digest in the output and to
/// compare outputs byte for byte.
public struct SHA256: Sendable {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )
    private var block = [UInt8](repeating: 0, count: 64)
    private var blockFill = 0
    private var byteCount: UInt64 = 0

    public init() {}

    /// Feeds more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        byteCount &+= UInt64(bytes.count)
        var index = 0
        if blockFill > 0 {
            let take = min(64 - blockFill, bytes.count)
            for offset in 0..<take { block[blockFill + offset] = bytes[offset] }
            blockFill += take
            index = take
            if blockFill == 64 {
                block.withUnsafeBytes { compressBlocks($0.baseAddress!, count: 1) }
                blockFill = 0
            }
        }
        let wholeBlocks = (bytes.count - index) / 64
        if wholeBlocks > 0 {
            compressBlocks(bytes.baseAddress! + index, count: wholeBlocks)
            index += wholeBlocks * 64
        }
        for offset in index..<bytes.count { block[offset - index] = bytes[offset] }
        blockFill += bytes.count - index
    }

    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// The 32-byte digest of everything fed so far (the hasher itself is left unchanged).
    public func finalize() -> [UInt8] {
        var copy = self
        let bitLength = byteCount &* 8
        var padding: [UInt8] = [0x80]
        padding += [UInt8](repeating: 0, count: (55 - blockFill + 64) % 64)
        for shift in stride(from: 56, through: 0, by: -8) { padding.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        padding.withUnsafeBytes { copy.update($0) }
        let words = [copy.state.0, copy.state.1, copy.state.2, copy.state.3,
                     copy.state.4, copy.state.5, copy.state.6, copy.state.7]
        return words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * UInt32($0))) } }
    }

    /// Lower-case hexadecimal digest.
    public func hexDigest() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
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
        let descriptor = POSIXFile.retryingInterrupts { open(path, O_RDONLY) }
        guard descriptor >= 0 else {
            if errno == ENOENT { throw .missingFile(path: path) }
            throw .ioFailed(path: path, operation: "open", reason: POSIXFile.errorText())
        }
        defer { _ = close(descriptor) }
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

    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    /// Runs the compression function over `count` consecutive 64-byte blocks. The message schedule lives on
    /// the stack and the constants are fetched once per call, not per block: both dominated the cost before.
    private mutating func compressBlocks(_ blocks: UnsafeRawPointer, count: Int) {
        var current = state
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            Self.roundConstants.withUnsafeBufferPointer { k in
                for blockIndex in 0..<count {
                    let chunk = blocks + 64 * blockIndex
                    for t in 0..<16 {
                        w[t] = UInt32(bigEndian: chunk.loadUnaligned(fromByteOffset: 4 * t, as: UInt32.self))
                    }
                    for t in 16..<64 {
                        let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
                        let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
                        w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
                    }
                    var (a, b, c, d, e, f, g, h) = current
                    for t in 0..<64 {
                        let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                        let choose = (e & f) ^ (~e & g)
                        let temp1 = h &+ s1 &+ choose &+ k[t] &+ w[t]
                        let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                        let majority = (a & b) ^ (a & c) ^ (b & c)
                        let temp2 = s0 &+ majority
                        (h, g, f, e, d, c, b, a) = (g, f, e, d &+ temp1, c, b, a, temp1 &+ temp2)
                    }
                    current = (current.0 &+ a, current.1 &+ b, current.2 &+ c, current.3 &+ d,
                               current.4 &+ e, current.5 &+ f, current.6 &+ g, current.7 &+ h)
                }
            }
        }
        state = current
    }


}

@inline(__always) private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
