#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Standard normal draws by a 128-layer ziggurat: one table look-up, one multiply and one compare in about
/// 99% of draws.
///
/// ``fill(_:using:)`` spends 32 random bits per `Float` (7 layer bits, 1 sign bit, 24 position bits), so one
/// 64-bit generator output gives two draws (low half first); ``next(using:)`` spends 64 bits per `Double` (53 position bits).
/// Both are exact samplers: the rare wedge and tail cases are resolved without approximation.
public enum StandardNormal {
    @inlinable
    public static func next(using rng: inout some RandomNumberGenerator) -> Double {
        let table = ZigguratTable.shared
        while true {
            let bits = rng.next()
            let layer = Int(truncatingIfNeeded: bits & 0x7F)
            let negative = bits & 0x80 != 0
            let x = Double(bits >> 11) * table.doubleScale[layer]
            if x < table.x[layer + 1] { return negative ? -x : x }
            if let accepted = edgeCase(layer: layer, x: x, table: table, using: &rng) {
                return negative ? -accepted : accepted
            }
        }
    }

    @inlinable
    public static func fill<G: RandomNumberGenerator>(_ out: UnsafeMutableBufferPointer<Float>, using rng: inout G) {
        guard let base = out.baseAddress else { return }
        let table = ZigguratTable.shared
        let scale = table.floatScale, limit = table.floatLimit
        let count = out.count
        // Random words are taken a chunk at a time (in bulk from Philox), then turned into two draws each; the
        // rare slow-path draws take further words from the generator. Every generator type consumes its
        // stream in this same order, so results do not depend on which path produced the words.
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: chunkWords) { chunk in
            let words = chunk.baseAddress!
            var i = 0
            while i < count {
                let pairs = min(chunkWords, (count - i + 1) / 2)
                randomWords(words, count: pairs, using: &rng)
                for w in 0..<pairs {
                    let bits = words[w]
                    base[i] = floatDraw(UInt32(truncatingIfNeeded: bits), scale: scale, limit: limit, table: table, using: &rng)
                    if i + 1 < count {
                        base[i + 1] = floatDraw(UInt32(truncatingIfNeeded: bits >> 32), scale: scale, limit: limit, table: table, using: &rng)
                    }
                    i += 2
                }
            }
        }
    }

    @usableFromInline static var chunkWords: Int { 64 }

    /// `count` outputs of `rng`; Philox writes them in bulk, any other generator one `next()` at a time.
    @inlinable @inline(__always)
    static func randomWords<G: RandomNumberGenerator>(_ words: UnsafeMutablePointer<UInt64>, count: Int, using rng: inout G) {
        if G.self == Philox4x32.self {
            withUnsafeMutablePointer(to: &rng) { p in
                UnsafeMutableRawPointer(p).assumingMemoryBound(to: Philox4x32.self).pointee.fill(words, count: count)
            }
        } else {
            for w in 0..<count { words[w] = rng.next() }
        }
    }

    @inlinable @inline(__always)
    static func floatDraw(
        _ bits: UInt32, scale: UnsafeMutablePointer<Float>, limit: UnsafeMutablePointer<UInt32>,
        table: ZigguratTable, using rng: inout some RandomNumberGenerator
    ) -> Float {
        let layer = Int(truncatingIfNeeded: bits & 0x7F)
        let position = bits >> 8
        let x = Float(position) * scale[layer]
        if _fastPath(position < limit[layer]) {
            // The sign bit (bit 7) moves to bit 31 of the result.
            return Float(bitPattern: x.bitPattern | ((bits & 0x80) << 24))
        }
        return floatSlowDraw(bits, table: table, using: &rng)
    }

    /// Outside the box of the chosen layer: wedge test or tail, and on rejection a fresh exact draw.
    @inlinable @inline(never)
    static func floatSlowDraw(_ bits: UInt32, table: ZigguratTable, using rng: inout some RandomNumberGenerator) -> Float {
        let layer = Int(truncatingIfNeeded: bits & 0x7F)
        let x = Double(bits >> 8) * table.x[layer] * 0x1p-24
        let sample = edgeCase(layer: layer, x: x, table: table, using: &rng) ?? abs(next(using: &rng))
        return Float(bits & 0x80 != 0 ? -sample : sample)
    }

    /// For a point `x` of `layer` that fell outside the layer's box: the accepted magnitude, or nil to redraw.
    @inlinable
    static func edgeCase(layer: Int, x: Double, table: ZigguratTable, using rng: inout some RandomNumberGenerator) -> Double? {
        if layer == 0 {
            // Tail beyond r (Marsaglia 1964).
            let r = ZigguratTable.tailStart
            while true {
                let a = -log(UnitUniform.next(using: &rng)) / r
                let b = -log(UnitUniform.next(using: &rng))
                if b + b >= a * a { return r + a }
            }
        }
        let low = table.f[layer], high = table.f[layer + 1]
        let y = low + UnitUniform.next(using: &rng) * (high - low)
        return y < exp(-0.5 * x * x) ? x : nil
    }
}
