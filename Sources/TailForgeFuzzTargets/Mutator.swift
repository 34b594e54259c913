import TailForgeCluster
import TailForgeNumerics

/// A seeded mutation engine: the same seed gives the same sequence of inputs, so a failure in a test or a
/// real-process run is reproducible from its seed and iteration. Used where libFuzzer is not (the test suite's
/// quick pass over the corpus, the real-process fuzz test); libFuzzer does the long, coverage-guided runs.
public struct Mutator {
    var random: Xoshiro256PlusPlus

    public init(seed: UInt64) { random = Xoshiro256PlusPlus(seed: seed, stream: 0xF022) }

    /// Decimal values that sit on the edges decoders and the code after them get wrong.
    static let edgeNumbers = ["0", "-1", "4611686018427387904", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                              "18446744073709551616", "4294967296", "2147483648", "1e300", "-1e300", "1e-320", "1e999", "NaN", "0.5"]
    /// Bytes that change the shape of JSON and YAML text.
    static let edgeBytes: [UInt8] = Array("\"{}[]:,-0 \n\\".utf8) + [0, 0x7F, 0x80, 0xFF]

    mutating func index(_ count: Int) -> Int { count <= 1 ? 0 : Int(random.next() % UInt64(count)) }

    /// One to four stacked byte-level mutations of `input`: bit flips, edge bytes, truncation, deleted,
    /// duplicated and random ranges, a splice with another input, an inflated decimal number or binary length.
    public mutating func mutate(_ input: [UInt8], others: [[UInt8]] = []) -> [UInt8] {
        var bytes = input
        for _ in 0...index(4) {
            switch index(9) {
            case 0:
                for _ in 0...index(8) where !bytes.isEmpty { bytes[index(bytes.count)] ^= UInt8(1) << UInt8(index(8)) }
            case 1:
                if !bytes.isEmpty { bytes[index(bytes.count)] = Self.edgeBytes[index(Self.edgeBytes.count)] }
            case 2:
                bytes = Array(bytes.prefix(index(bytes.count + 1)))
            case 3:
                let start = index(bytes.count + 1)
                bytes.removeSubrange(start..<min(bytes.count, start + 1 + index(16)))
            case 4:
                let start = index(bytes.count + 1)
                let range = Array(bytes[start..<min(bytes.count, start + 1 + index(64))])
                bytes.insert(contentsOf: range + range, at: index(bytes.count + 1))
            case 5:
                bytes.insert(contentsOf: (0...index(16)).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: index(bytes.count + 1))
            case 6:
                if let other = others.isEmpty ? nil : others[index(others.count)] {
                    bytes = Array(bytes.prefix(index(bytes.count + 1))) + other.suffix(index(other.count + 1))
                }
            case 7:
                inflateNumber(&bytes)
            default:
                // A binary length or count field: 8 bytes of an extreme little-endian integer anywhere.
                let value: UInt64 = [UInt64(Int64.max), UInt64.max, 1 << 62, 1 << 31][index(4)]
                let at = index(bytes.count + 1)
                let field = (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
                bytes.replaceSubrange(at..<min(bytes.count, at + 8), with: field)
            }
        }
        return bytes
    }

    /// Replaces one run of decimal digits with an edge value (huge declared lengths, counts and sizes).
    mutating func inflateNumber(_ bytes: inout [UInt8]) {
        let digits = bytes.indices.filter { (48...57).contains(bytes[$0]) && ($0 == 0 || !(48...57).contains(bytes[$0 - 1])) }
        guard !digits.isEmpty else { return }
        let start = digits[index(digits.count)]
        var end = start
        while end < bytes.count, (48...57).contains(bytes[end]) { end += 1 }
        bytes.replaceSubrange(start..<end, with: Array(Self.edgeNumbers[index(Self.edgeNumbers.count)].utf8))
    }

    /// A malformed multipart message made from valid ones: random frames, a frame truncated or bit-flipped, an
    /// inflated length or count in the header, another or an unknown type, another protocol version, a corrupted
    /// payload, frames added or missing.
    public mutating func malformedFrames(from valid: [[[UInt8]]]) -> [[UInt8]] {
        var frames = valid[index(valid.count)]
        switch index(9) {
        case 0:
            frames = (0...index(6)).map { _ in (0..<index(64)).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
        case 1:
            let at = index(frames.count)
            frames[at] = Array(frames[at].prefix(index(frames[at].count)))
        case 2:
            let at = index(frames.count)
            frames[at] = mutate(frames[at])
        case 3:
            if frames.count > 2 { inflateNumber(&frames[2]) }
        case 4:
            let code: UInt16 = index(2) == 0 ? MessageType.allCases[index(MessageType.allCases.count)].rawValue : UInt16(truncatingIfNeeded: random.next())
            if frames.count > 1 { frames[1] = [UInt8(code >> 8), UInt8(code & 0xFF)] }
        case 5:
            for _ in 0...index(4) { frames.append((0..<index(32)).map { _ in UInt8(truncatingIfNeeded: random.next()) }) }
        case 6:
            // Another protocol version behind the right magic.
            let version = UInt16(truncatingIfNeeded: random.next() | 2)
            frames[0] = Array("TFRG".utf8) + [UInt8(version >> 8), UInt8(version & 0xFF)]
        case 7:
            // A payload corrupted after its header was written (or, without payloads, one the header never announced).
            if frames.count > 3 {
                let at = 3 + index(frames.count - 3)
                if !frames[at].isEmpty { frames[at][index(frames[at].count)] ^= UInt8(1) << UInt8(index(8)) }
            } else {
                frames.append([UInt8(truncatingIfNeeded: random.next())])
            }
        default:
            frames.remove(at: index(frames.count))
        }
        return frames
    }
}
