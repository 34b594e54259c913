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
        // Tails, including beyond the ziggurat's tail start r (4.04 for 1,024 layers) and both signs separately.
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

    /// The tail beyond r (the base layer's points outside its box, Marsaglia's tail algorithm) and the base
    /// layer's box edge, where the other tests see only a few draws: 2²⁴ draws on the engine's stream, the share
    /// beyond each of r − 0.05, r, r + 0.25, 4.5 and 5 (expected ≈ 1.1·10³ down to ≈ 10 draws) within 5 binomial
    /// standard errors, both signs together.
    @Test func lanesFillHasTheNormalTailBeyondR() {
        var rng = Xoshiro256PlusPlusLanes(seed: 35, stream: 0)
        var buffer = [Float](repeating: .nan, count: 1 << 24)
        buffer.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &rng) }
        let n = Double(buffer.count), r = ZigguratTable.tailStart
        let thresholds = [r - 0.05, r, r + 0.25, 4.5, 5]
        let beyond = buffer.map(Double.init).filter { abs($0) > thresholds[0] }
        for t in thresholds {
            let p = Self.twoSidedTail(t)
            let count = Double(beyond.filter { abs($0) > t }.count)
            #expect(abs(count / n - p) < 5 * (p * (1 - p) / n).squareRoot(), "P(|Z| > \(t)) = \(count / n), expected \(p)")
        }
    }

    @Test func doubleNextMatchesNormalHistogram() {
        var rng = Xoshiro256PlusPlus(seed: 32, stream: 0)
        Self.checkHistogram((0..<400_000).map { _ in StandardNormal.next(using: &rng) })
    }

    /// Layers whose wedges are tested: the convex side (x > 1) from the first above the base, the layer that
    /// straddles 1 (neither squeeze applies), the concave side and the top layer (all wedge, no box).
    static var wedgeLayers: [Int] {
        let t = ZigguratTable.shared, n = ZigguratTable.layers
        let straddling = (1..<n).first { t.x[$0] >= 1 && t.x[$0 + 1] < 1 }!
        return [1, n / 12, 2 * n / 5, 7 * n / 10, straddling, 9 * n / 10, n - 1]
    }

    /// The wedge test in isolation: for a point x of layer i outside the box, acceptance must have probability
    /// exactly (f(x) − f[i]) / (f[i+1] − f[i]), whether the squeeze or the exponential decides it, in each of
    /// `wedgeLayers`; bound 5 binomial standard errors.
    @Test(arguments: wedgeLayers)
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
    /// (the top layer always misses, layer 0 with the top position bits set lies beyond r), for odd and even
    /// counts, counts that are not a multiple of the AVX-512 build's sixteen, and the chunk of 256.
    @Test func vectorisedConversionEqualsScalar() {
        let table = ZigguratTable.shared
        var rng = Xoshiro256PlusPlus(seed: 8, stream: 1)
        // Draws (low half first): every bit set (the top layer, negative); the top layer at the largest position,
        // then the base layer there (beyond r), negative; the base layer at the top position bit, then the top
        // layer at 0.
        let top = UInt64(ZigguratTable.layers - 1), sign = UInt64(ZigguratTable.layers)
        let positions = 0xFFFF_FFFF & ~(sign | top)
        let special: [UInt64] = [0xFFFF_FFFF_FFFF_FFFF, (positions | top) | (positions | sign) << 32, 0x8000_0000 | top << 32, 0]
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

    /// With v computed from r (box plus exact tail area) the recurrence closes at the top layer (the last
    /// layer's area x[n−1]·(1 − f(x[n−1])), which the recurrence never set, equals v) to 1.8e-12 relative for
    /// 1,024 layers (1.4e-13 for 256), so every layer's area — its box and its wedge, [0, x[i]) × [f[i], f[i+1]) —
    /// equals v to far better than 1e-11 (relative).
    @Test func zigguratLayersHaveEqualArea() {
        let t = ZigguratTable.shared, n = ZigguratTable.layers
        let r = ZigguratTable.tailStart
        let v = r * exp(-0.5 * r * r) + (Double.pi / 2).squareRoot() * erfc(r / 2.0.squareRoot())
        for i in 1..<n {
            #expect(abs(t.x[i] * (t.f[i + 1] - t.f[i]) - v) < 1e-11 * v, "layer \(i)")
        }
        #expect(abs(t.x[n - 1] * (1 - t.f[n - 1]) - v) < 1e-11 * v, "the recurrence's closure at the top layer")
        #expect(abs(t.x[0] * t.f[1] - v) < 1e-11 * v, "base layer box plus tail")
        #expect(t.x[n] == 0 && t.f[n] == 1 && t.x[n - 1] > 0)
        // Layers narrow monotonically, so every layer's box lies inside the one below.
        for i in 0..<n { #expect(t.x[i + 1] < t.x[i], "layer \(i)") }
    }

    /// A 32-bit draw has 31 − layer bits position bits (21 for 1,024 layers), so a box draw of layer i lies on
    /// the grid x[i]·2⁻²¹ — at most x[0]·2⁻²¹ ≈ 2e-6 wide, which moves the normal CDF by at most
    /// φ(0)·2e-6 < 1e-6, far below what the statistical tests (or 10¹⁰ draws) can see. The box test is exact on
    /// that grid: position j is in the box (j < limit) exactly when j·x[i]·2⁻²¹ < x[i+1], so no point outside its
    /// box is returned without the wedge test, and no point inside it is sent there. The box-miss share (the
    /// draws that need more work) is what more layers buy: 0.43% for 1,024 layers, 1.49% for 256.
    @Test func boxDrawsAreExactOnTheirGrid() {
        let t = ZigguratTable.shared, n = ZigguratTable.layers, bits = ZigguratTable.positionBits
        #expect(bits == 31 - ZigguratTable.layerBits && ZigguratTable.layerBits + 1 + 53 <= 64)
        let unit = Double(sign: .plus, exponent: -bits, significand: 1)
        #expect(t.x[0] * unit < 2.1e-6)
        var missShare = 0.0
        for i in 0..<n {
            let box = t.layerBoxes[i]
            #expect(box.scale == Float(t.x[i] * unit), "layer \(i)")
            let limit = Double(box.limit)
            #expect(limit <= Double(1 << bits), "layer \(i)")
            if limit > 0 { #expect((limit - 1) * t.x[i] * unit < t.x[i + 1], "layer \(i): the last position in the box") }
            #expect(limit * t.x[i] * unit >= t.x[i + 1], "layer \(i): the first position outside the box")
            #expect(t.doubleScale[i] == t.x[i] * 0x1p-53, "layer \(i)")
            missShare += 1 - limit / Double(1 << bits)
        }
        missShare /= Double(n)
        let expected: [Int: Double] = [256: 0.0149, 512: 0.0080, 1024: 0.0043]
        #expect(abs(missShare - expected[n]!) < 0.0001, "box-miss share \(missShare)")
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
    /// `fill(_:using:)` runs) is held equal to. 32 random bits (layer bits, 1 sign bit, position bits, low to high)
    /// give ±position·scale[layer] assuming the point lies in its layer's box; when it does not, `index` is
    /// appended to `missed` (to be redone outside the box).
    static func boxDraw(
        _ bits: UInt32, layers: UnsafeMutablePointer<tailforge_ziggurat_layer>,
        index: Int, missed: UnsafeMutablePointer<Int32>, missCount: inout Int
    ) -> Float {
        let layerBits = UInt32(ZigguratTable.layerBits)
        let layer = layers[Int(truncatingIfNeeded: bits & (1 &<< layerBits &- 1))]
        // Through Int32 (exact below 2²⁴), as the C loop converts.
        let position = Int32(bitPattern: bits &>> (layerBits + 1))
        let x = Float(position) * layer.scale
        missed[missCount] = Int32(truncatingIfNeeded: index)
        missCount &+= position < layer.limit ? 0 : 1
        // The sign bit (just above the layer bits) moves to bit 31 of the result.
        return Float(bitPattern: x.bitPattern | ((bits & (1 &<< layerBits)) &<< (31 - layerBits)))
    }
}
