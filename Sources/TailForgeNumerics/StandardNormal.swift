#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTailForgeKernels

/// Standard normal draws by a 256-layer ziggurat: one table look-up, one multiply and one compare in 98.5%
/// of draws.
///
/// ``fill(_:using:)`` spends 32 random bits per `Float` (8 layer bits, 1 sign bit, 23 position bits, as numpy's
/// `random_standard_normal_f`), so one
/// 64-bit generator output gives two draws (low half first); ``next(using:)`` spends 64 bits per `Double` (53 position bits).
/// Both are exact samplers: the rare wedge and tail cases are resolved without approximation.
public enum StandardNormal {
    @inlinable
    public static func next(using rng: inout some RandomNumberGenerator) -> Double {
        let table = ZigguratTable.shared
        while true {
            let bits = rng.next()
            let layer = Int(truncatingIfNeeded: bits & 0xFF)
            let negative = bits & 0x100 != 0
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
        // A chunk of random words is generated in bulk, then converted by one vectorised loop (C, cloned per
        // instruction set, see `tailforge_kernels.h`) that writes every draw as if it were in its layer's box
        // and flags the 1.5% that are not; those are redone afterwards in index order (wedge, tail or a fresh
        // draw, taking further words from the generator). Every generator type consumes its stream in this same
        // order, so results do not depend on which path produced the words.
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: chunkWords) { chunk in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * chunkWords) { flags in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * chunkWords) { misses in
                    let words = chunk.baseAddress!, missed = misses.baseAddress!
                    var i = 0
                    while i < count {
                        let draws = min(2 * chunkWords, count - i)
                        randomWords(words, count: (draws + 1) / 2, using: &rng)
                        let target = base + i
                        let missCount = tailforge_ziggurat_box(words, draws, scale, limit, target, flags.baseAddress!, missed)
                        for m in 0..<missCount {
                            let k = Int(missed[m])
                            target[k] = floatSlowDraw(UInt32(truncatingIfNeeded: words[k >> 1] &>> UInt64((k & 1) << 5)), table: table, using: &rng)
                        }
                        i += draws
                    }
                }
            }
        }
    }

    /// Words per chunk of ``fill(_:using:)``: two draws each, so a 768-d vector takes three chunks.
    @usableFromInline static var chunkWords: Int { 128 }

    /// `count` outputs of `rng`; Philox and xoshiro256++ (scalar and lanes) write them in bulk, any other generator one `next()`
    /// at a time. The type tests are resolved at compile time in specialised code.
    @inlinable @inline(__always)
    static func randomWords<G: RandomNumberGenerator>(_ words: UnsafeMutablePointer<UInt64>, count: Int, using rng: inout G) {
        if G.self == Xoshiro256PlusPlusLanes.self {
            withUnsafeMutablePointer(to: &rng) { p in
                UnsafeMutableRawPointer(p).assumingMemoryBound(to: Xoshiro256PlusPlusLanes.self).pointee.fill(words, count: count)
            }
        } else if G.self == Xoshiro256PlusPlus.self {
            withUnsafeMutablePointer(to: &rng) { p in
                UnsafeMutableRawPointer(p).assumingMemoryBound(to: Xoshiro256PlusPlus.self).pointee.fill(words, count: count)
            }
        } else if G.self == Philox4x32.self {
            withUnsafeMutablePointer(to: &rng) { p in
                UnsafeMutableRawPointer(p).assumingMemoryBound(to: Philox4x32.self).pointee.fill(words, count: count)
            }
        } else {
            for w in 0..<count { words[w] = rng.next() }
        }
    }

    /// Outside the box of the chosen layer: wedge test or tail, and on rejection a complete fresh draw from the
    /// low 32 bits of the next word (the same 32-bit sampler, so the result stays exact; a rejection costs one
    /// word rather than a full Double draw).
    @inlinable @inline(never)
    static func floatSlowDraw(_ bits: UInt32, table: ZigguratTable, using rng: inout some RandomNumberGenerator) -> Float {
        var bits = bits
        while true {
            let layer = Int(truncatingIfNeeded: bits & 0xFF)
            let position = bits >> 9
            let magnitude: Double?
            if Int32(bitPattern: position) < table.floatLimit[layer] {
                magnitude = Double(Float(Int32(bitPattern: position)) * table.floatScale[layer])
            } else {
                magnitude = edgeCase(layer: layer, x: Double(position) * table.x[layer] * 0x1p-23, table: table, using: &rng)
            }
            if let accepted = magnitude { return Float(bits & 0x100 != 0 ? -accepted : accepted) }
            bits = UInt32(truncatingIfNeeded: rng.next())
        }
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
        // The wedge: x in [x[i+1], x[i]), y uniform in [f[i], f[i+1]); accept when y < f(x). f is convex beyond
        // 1 and concave below, so the chord and a tangent through the layer's corners bound it on each side and
        // settle most points without the exponential (the squeeze of McFarland 2016, "A modified ziggurat
        // algorithm"). In U's terms, y lies above the chord exactly when u > (x[i] − x)/(x[i] − x[i+1]).
        let outer = table.x[layer], inner = table.x[layer + 1]
        let low = table.f[layer], high = table.f[layer + 1]
        let u = UnitUniform.next(using: &rng)
        let y = low + u * (high - low)
        let chord = (outer - x) / (outer - inner)
        if inner >= 1 {
            if u > chord { return nil }  // above the chord, which lies above convex f
            if y < low * (1 + outer * (outer - x)) { return x }  // below the tangent at x[i], which lies below f
        } else if outer <= 1 {
            if u < chord { return x }  // below the chord, which lies below concave f
            if y > high * (1 - inner * (x - inner)) { return nil }  // above the tangent at x[i+1], above f
        }
        return y < exp(-0.5 * x * x) ? x : nil
    }
}
