import Foundation
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

    /// The recurrence from the published (r, v) closes at 1 − 4e-11 instead of 1, which leaves the top layer's
    /// area 1.2e-9 (relative) off; every other layer is equal to rounding.
    /// Philox's bulk path and the one-word-at-a-time path of any other generator consume the stream in the
    /// same order, so they give bit-identical normals.
    @Test func fillIsIdenticalThroughAnyGeneratorType() {
        struct Wrapped: RandomNumberGenerator {
            var inner: Philox4x32
            mutating func next() -> UInt64 { inner.next() }
        }
        var direct = Philox4x32(seed: 21, stream: 2)
        var wrapped = Wrapped(inner: Philox4x32(seed: 21, stream: 2))
        for count in [1, 7, 128, 129, 769] {
            var a = [Float](repeating: 0, count: count), b = a
            a.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &direct) }
            b.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &wrapped) }
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        }
        #expect(direct.next() == wrapped.next())
    }

    @Test func zigguratLayersHaveEqualArea() {
        let t = ZigguratTable.shared
        let area = t.x[1] * (t.f[2] - t.f[1])
        for i in 1..<ZigguratTable.layers {
            #expect(abs(t.x[i] * (t.f[i + 1] - t.f[i]) - area) < 2e-9 * area, "layer \(i)")
        }
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

    @Test func betaHasItsMean() {
        var rng = Philox4x32(seed: 14, stream: 0)
        let (a, b) = (2.0, 5.0), n = 10_000
        let mean = (0..<n).reduce(0.0) { acc, _ in acc + BetaDistribution.sample(alpha: a, beta: b, using: &rng) } / Double(n)
        let variance = a * b / ((a + b) * (a + b) * (a + b + 1))
        #expect(abs(mean - a / (a + b)) < 5 * (variance / Double(n)).squareRoot())
    }
}
