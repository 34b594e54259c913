import Foundation
import CTailForgeKernels
import Testing
@testable import TailForgeNumerics

/// Moment and tail checks with bounds of five standard errors of each statistic at the sample size used.
@Suite struct StandardNormalTests {
    /// P(|Z| > t) for the standard normal.
    static func twoSidedTail(_ t: Double) -> Double { erfc(t / 2.0.squareRoot()) }

    static func checkNormal(_ samples: [Double]) {
        let n = Double(samples.count)
        let mean = samples.reduce(0, +) / n
        let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        let fourth = samples.reduce(0) { $0 + $1 * $1 * $1 * $1 } / n
        #expect(abs(mean) < 5 / n.squareRoot(), "mean \(mean)")
        #expect(abs(variance - 1) < 5 * (2 / n).squareRoot(), "variance \(variance)")
        // Var[Z⁴] = E[Z⁸] − 9 = 96.
        #expect(abs(fourth - 3) < 5 * (96 / n).squareRoot(), "fourth moment \(fourth)")
        // Tails, including beyond the ziggurat's tail start r = 3.44 and both signs separately.
        for t in [0.5, 1, 2, 3, ZigguratTable.tailStart, 4] {
            let p = twoSidedTail(t) / 2
            for sign in [-1.0, 1.0] {
                let count = Double(samples.filter { $0 * sign > t }.count)
                #expect(abs(count / n - p) < 5 * (p * (1 - p) / n).squareRoot(), "P(\(sign)·Z > \(t)) = \(count / n), expected \(p)")
            }
        }
        #expect(samples.allSatisfy { $0.isFinite })
    }

    @Test func floatFillIsStandardNormal() {
        var rng = Philox4x32(seed: 11, stream: 0)
        var buffer = [Float](repeating: .nan, count: 100_001)  // odd length exercises the last single draw
        buffer.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &rng) }
        Self.checkNormal(buffer.map(Double.init))
    }

    @Test func doubleNextIsStandardNormal() {
        var rng = Philox4x32(seed: 12, stream: 0)
        Self.checkNormal((0..<100_000).map { _ in StandardNormal.next(using: &rng) })
    }

    /// Pearson's χ² over 160 bins of width 0.05 on [−4, 4) plus the two tails: the ziggurat's wedges are
    /// thinner than any moment test sees, bins this fine would show a wrong wedge or squeeze. With 161 degrees
    /// of freedom χ² has mean 161 and standard deviation √322 ≈ 18; the bound is the mean plus 5 of them.
    static func checkHistogram(_ samples: [Double]) {
        let n = Double(samples.count), width = 0.05, bins = 160
        var counts = [Double](repeating: 0, count: bins + 2)
        for z in samples {
            let k = ((z + 4) / width).rounded(.down)
            counts[k < 0 ? bins : (k >= Double(bins) ? bins + 1 : Int(k))] += 1
        }
        func below(_ t: Double) -> Double { 0.5 * erfc(-t / 2.0.squareRoot()) }
        var chi2 = 0.0
        for k in 0..<bins {
            let expected = n * (below(-4 + Double(k + 1) * width) - below(-4 + Double(k) * width))
            chi2 += (counts[k] - expected) * (counts[k] - expected) / expected
        }
        let tail = n * below(-4)
        chi2 += (counts[bins] - tail) * (counts[bins] - tail) / tail + (counts[bins + 1] - tail) * (counts[bins + 1] - tail) / tail
        #expect(chi2 < 161 + 5 * 322.0.squareRoot(), "χ² = \(chi2)")
    }

    @Test func floatFillMatchesNormalHistogram() {
        var rng = Xoshiro256PlusPlus(seed: 31, stream: 0)
        var buffer = [Float](repeating: .nan, count: 400_000)
        buffer.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &rng) }
        Self.checkHistogram(buffer.map(Double.init))
    }

    /// The engine's path (eight xoshiro256++ lanes, the vectorised box step): moments, tails and the fine
    /// histogram as above.
    @Test func lanesFillIsStandardNormal() {
        var rng = Xoshiro256PlusPlusLanes(seed: 33, stream: 0)
        var buffer = [Float](repeating: .nan, count: 400_001)
        buffer.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &rng) }
        let samples = buffer.map(Double.init)
        Self.checkNormal(samples)
        Self.checkHistogram(samples)
    }

    /// Kolmogorov–Smirnov against the exact normal CDF, filled 768 at a time as the vMF sampler does. With n
    /// draws P(√n·D > x) ≤ 2·exp(−2x²) (Dvoretzky–Kiefer–Wolfowitz, Massart's constant), so x = 2.69 is
    /// exceeded with probability < 1e-6 by a correct sampler; the Float rounding of a draw (≤ 2⁻²³ relative)
    /// moves the CDF by < 1e-7, far below the bound 2.69/√n ≈ 0.0043.
    @Test func lanesFillPassesKolmogorovSmirnov() {
        var rng = Xoshiro256PlusPlusLanes(seed: 34, stream: 5)
        let d = 768, vectors = 500
        var buffer = [Float](repeating: .nan, count: d * vectors)
        buffer.withUnsafeMutableBufferPointer { b in
            for v in 0..<vectors { StandardNormal.fill(UnsafeMutableBufferPointer(rebasing: b[v * d ..< (v + 1) * d]), using: &rng) }
        }
        let sorted = buffer.map(Double.init).sorted()
        let n = Double(sorted.count)
        var largest = 0.0
        for (i, z) in sorted.enumerated() {
            let cdf = 0.5 * erfc(-z / 2.0.squareRoot())
            largest = max(largest, abs(cdf - Double(i) / n), abs(Double(i + 1) / n - cdf))
        }
        #expect(largest * n.squareRoot() < 2.69, "√n·D = \(largest * n.squareRoot())")
    }

    @Test func doubleNextMatchesNormalHistogram() {
        var rng = Xoshiro256PlusPlus(seed: 32, stream: 0)
        Self.checkHistogram((0..<400_000).map { _ in StandardNormal.next(using: &rng) })
    }

    /// The wedge test in isolation: for a point x of layer i outside the box, acceptance must have probability
    /// exactly (f(x) − f[i]) / (f[i+1] − f[i]), whether the squeeze or the exponential decides it. Layers on
    /// the convex side (x > 1), the concave side and layer 204, which straddles 1; bound 5 binomial standard errors.
    @Test(arguments: [1, 20, 100, 180, 204, 230, 255])
    func wedgeAcceptsWithTheExactProbability(layer: Int) {
        let t = ZigguratTable.shared
        var rng = Xoshiro256PlusPlus(seed: 41, stream: UInt64(layer))
        let (outer, inner) = (t.x[layer], t.x[layer + 1])
        let n = 4000
        for step in 1...5 {
            let x = inner + (outer - inner) * Double(step) / 6
            let p = (exp(-0.5 * x * x) - t.f[layer]) / (t.f[layer + 1] - t.f[layer])
            let accepted = (0..<n).filter { _ in StandardNormal.edgeCase(layer: layer, x: x, table: t, using: &rng) != nil }.count
            #expect(abs(Double(accepted) / Double(n) - p) < 5 * (p * (1 - p) / Double(n)).squareRoot() + 1e-9,
                    "layer \(layer) x \(x): accepted \(Double(accepted) / Double(n)), expected \(p)")
        }
    }

    /// The bulk paths (Philox, xoshiro256++) and the one-word-at-a-time path of any other generator consume
    /// the stream in the same order, so they give bit-identical normals.
    @Test func fillIsIdenticalThroughAnyGeneratorType() {
        struct Wrapped<G: RandomNumberGenerator>: RandomNumberGenerator {
            var inner: G
            mutating func next() -> UInt64 { inner.next() }
        }
        func check<G: RandomNumberGenerator>(_ make: () -> G) {
            var direct = make()
            var wrapped = Wrapped(inner: make())
            for count in [1, 7, 128, 129, 255, 256, 257, 769] {
                var a = [Float](repeating: 0, count: count), b = a
                a.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &direct) }
                b.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &wrapped) }
                #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
            }
            #expect(direct.next() == wrapped.next())
        }
        check { Philox4x32(seed: 21, stream: 2) }
        check { Xoshiro256PlusPlus(seed: 21, stream: 2) }
        check { Xoshiro256PlusPlusLanes(seed: 21, stream: 2) }
    }

    /// The vectorised box step, in every build this CPU can run (the hand-written AVX-512 one, the compiler's
    /// AVX2 and baseline ones) and as the loader chose it, is the scalar one, draw for draw, misses included
    /// (layer 255 always misses, layer 0 with the top position bits set lies beyond r), for odd and even counts,
    /// counts that are not a multiple of the AVX-512 build's sixteen, and the chunk of 256.
    @Test func vectorisedConversionEqualsScalar() {
        let table = ZigguratTable.shared
        var rng = Xoshiro256PlusPlus(seed: 8, stream: 1)
        let special: [UInt64] = [0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FE00_FFFF_FE00, 0x0000_00FF_8000_01FF, 0]
        let levels = [1, 3, 4].filter { $0 <= tailforge_random_isa_level() }
        for count in [1, 2, 7, 15, 16, 17, 33, 255, 256] {
            for round in 0..<40 {
                let words = (0..<(count + 1) / 2).map { w in round == 0 && w < special.count ? special[w] : rng.next() }
                var scalar = [Float](repeating: .nan, count: count)
                var missedScalar = [Int32](repeating: -1, count: count)
                var scalarCount = 0
                missedScalar.withUnsafeMutableBufferPointer { m in
                    for k in 0..<count {
                        let bits = UInt32(truncatingIfNeeded: words[k / 2] >> UInt64(32 * (k % 2)))
                        scalar[k] = StandardNormal.boxDraw(bits, layers: table.layerBoxes, index: k, missed: m.baseAddress!, missCount: &scalarCount)
                    }
                }
                for level in levels + [0] {  // 0: the build the loader chose
                    var vector = [Float](repeating: .nan, count: count)
                    var missedVector = [Int32](repeating: -1, count: count)
                    let vectorCount = level == 0
                        ? tailforge_ziggurat_box(words, count, table.layerBoxes, &vector, &missedVector)
                        : tailforge_ziggurat_box_at_level(Int32(level), words, count, table.layerBoxes, &vector, &missedVector)
                    #expect(vector.map(\.bitPattern) == scalar.map(\.bitPattern), "level \(level), \(count) draws")
                    #expect(vectorCount == scalarCount, "level \(level), \(count) draws")
                    #expect(Array(missedVector.prefix(vectorCount)) == Array(missedScalar.prefix(scalarCount)), "level \(level)")
                }
            }
        }
    }

    /// With v computed from r (box plus exact tail area) the recurrence closes at the top layer to 1.4e-13, so
    /// every layer's area equals the first to far better than 1e-11 (relative).
    @Test func zigguratLayersHaveEqualArea() {
        let t = ZigguratTable.shared
        let area = t.x[1] * (t.f[2] - t.f[1])
        for i in 1..<ZigguratTable.layers {
            #expect(abs(t.x[i] * (t.f[i + 1] - t.f[i]) - area) < 1e-11 * area, "layer \(i)")
        }
        #expect(abs(t.x[0] * t.f[1] - area) < 1e-11 * area, "base layer box plus tail")
        #expect(t.x[ZigguratTable.layers - 1] > 0)
    }

    @Test(arguments: [0.5, 1.5, 383.5])
    func gammaHasMeanAndVarianceEqualToShape(shape: Double) {
        var rng = Philox4x32(seed: 13, stream: UInt64(shape * 2))
        let n = 10_000
        let samples = (0..<n).map { _ in GammaDistribution.sample(shape: shape, using: &rng) }
        let mean = samples.reduce(0, +) / Double(n)
        let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        #expect(abs(mean - shape) < 5 * (shape / Double(n)).squareRoot())
        // Var of the sample variance of Gamma(a): (μ₄ − σ⁴)/n with μ₄ = 3a² + 6a.
        #expect(abs(variance - shape) < 5 * ((3 * shape * shape + 6 * shape - shape * shape) / Double(n)).squareRoot())
        #expect(samples.allSatisfy { $0 > 0 })
    }
}

extension StandardNormal {
    /// The box step for one draw, written plainly: the oracle `tailforge_ziggurat_box` (the bulk C loop
    /// `fill(_:using:)` runs) is held equal to. 32 random bits (8 layer bits, 1 sign bit, 23 position bits) give
    /// ±position·scale[layer] assuming the point lies in its layer's box; when it does not, `index` is appended
    /// to `missed` (to be redone outside the box).
    static func boxDraw(
        _ bits: UInt32, layers: UnsafeMutablePointer<tailforge_ziggurat_layer>,
        index: Int, missed: UnsafeMutablePointer<Int32>, missCount: inout Int
    ) -> Float {
        let layer = layers[Int(truncatingIfNeeded: bits & 0xFF)]
        // Through Int32 (exact below 2²³), as the C loop converts.
        let position = Int32(bitPattern: bits &>> 9)
        let x = Float(position) * layer.scale
        missed[missCount] = Int32(truncatingIfNeeded: index)
        missCount &+= position < layer.limit ? 0 : 1
        // The sign bit (bit 8) moves to bit 31 of the result.
        return Float(bitPattern: x.bitPattern | ((bits & 0x100) &<< 23))
    }
}
