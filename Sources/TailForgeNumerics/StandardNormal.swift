#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTailForgeKernels

/// Standard normal draws by a 1,024-layer ziggurat: one table look-up, one multiply and one compare in 99.57%
/// of draws.
///
/// ``fill(_:using:)`` spends 32 random bits per `Float` (10 layer bits, 1 sign bit, 21 position bits, low to
/// high; numpy's `random_standard_normal_f` has the same form with 256 layers), so one 64-bit generator output
/// gives two draws (low half first); ``next(using:)`` spends 64 bits per `Double` (10 layer bits, 1 sign bit,
/// 53 position bits).
/// Both are exact samplers: the rare wedge and tail cases are resolved without approximation.
public enum StandardNormal {
    /// The ziggurat's layer count: part of the stream's definition (benchmarks print it).
    public static var zigguratLayers: Int { ZigguratTable.layers }

    @inlinable
    public static func next(using rng: inout some RandomNumberGenerator) -> Double {
        let table = ZigguratTable.shared
        while true {
            let bits = rng.next()
            let layerBits = ZigguratTable.layerBits
            let layer = Int(truncatingIfNeeded: bits & (1 << layerBits - 1))
            let negative = bits & (1 << layerBits) != 0
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
        // One C loop (`tailforge_normal_fill`) does it all: chunks of 128 random words, the vectorised box step
        // (cloned per instruction set) that writes every draw as if it were in its layer's box and lists the
        // 0.43% that are not, and those redone in index order (wedge, tail or a fresh draw) with further words
        // from the generator. Every generator type consumes its stream in this same order, so results do not
        // depend on how the words reach the loop.
        let tables = ZigguratTable.shared.kernelTables
        withWordSource(&rng) { source in tailforge_normal_fill(base, out.count, tables, source) }
    }

    /// Calls `body` with a word source for the C loops that draws from `rng`: the eight-lane generator (the
    /// engine's stream) is read in place; any other generator through a callback, Philox and scalar xoshiro256++
    /// writing words in bulk, others one `next()` at a time.
    @inlinable
    static func withWordSource<G: RandomNumberGenerator, R>(
        _ rng: inout G, _ body: (UnsafePointer<tailforge_word_source>) -> R
    ) -> R {
        if G.self == Xoshiro256PlusPlusLanes.self {
            return withUnsafeMutablePointer(to: &rng) { p in
                let lanes = UnsafeMutableRawPointer(p).assumingMemoryBound(to: Xoshiro256PlusPlusLanes.self)
                return withUnsafeMutablePointer(to: &lanes.pointee.generator) { generator in
                    var source = tailforge_word_source(lanes: generator, words: nil, context: nil)
                    return body(&source)
                }
            }
        }
        typealias Draw = (UnsafeMutablePointer<UInt64>, Int) -> Void
        return withoutActuallyEscaping({ (words: UnsafeMutablePointer<UInt64>, count: Int) in
            randomWords(words, count: count, using: &rng)
        }) { (draw: @escaping Draw) in
            var draw = draw
            return withUnsafeMutablePointer(to: &draw) { context in
                var source = tailforge_word_source(
                    lanes: nil,
                    words: { context, words, count in context!.assumingMemoryBound(to: Draw.self).pointee(words!, count) },
                    context: UnsafeMutableRawPointer(context))
                return body(&source)
            }
        }
    }

    /// `count` outputs of `rng`; Philox and scalar xoshiro256++ write them in bulk, any other generator one
    /// `next()` at a time. The type tests are resolved at compile time in specialised code.
    @inlinable @inline(__always)
    static func randomWords<G: RandomNumberGenerator>(_ words: UnsafeMutablePointer<UInt64>, count: Int, using rng: inout G) {
        if G.self == Xoshiro256PlusPlus.self {
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

    /// For a point `x` of `layer` that fell outside the layer's box: the accepted magnitude, or nil to redraw
    /// (the wedge test, or a draw from the tail for layer 0: `tailforge_ziggurat_edge`, the code the Float
    /// path runs too).
    @inlinable
    static func edgeCase(layer: Int, x: Double, table: ZigguratTable, using rng: inout some RandomNumberGenerator) -> Double? {
        let magnitude = withWordSource(&rng) { source in
            tailforge_ziggurat_edge(Int32(truncatingIfNeeded: layer), x, table.kernelTables, source)
        }
        return magnitude >= 0 ? magnitude : nil
    }
}
