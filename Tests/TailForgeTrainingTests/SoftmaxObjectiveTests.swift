import Foundation
import Testing
import TailForgeNumerics
@testable import TailForgeTraining

@Suite struct SoftmaxObjectiveTests {
    /// Random small parameters, rounded to float32 so the float32 kernel and the float64 reference see the
    /// same point.
    func randomPoint(count: Int, seed: UInt64) -> [Double] {
        var rng = Xoshiro256PlusPlus(seed: seed, stream: 0)
        return (0 ..< count).map { _ in Double(Float(0.5 * StandardNormal.next(using: &rng))) }
    }

    @Test func gradientMatchesCentralFiniteDifferencesOfTheFloat64Loss() async throws {
        let (data, labels) = clusteredProblem(rows: 37, dimension: 6, classCount: 4, spread: 1.0, seed: 1)
        var rng = Xoshiro256PlusPlus(seed: 9, stream: 0)
        let sampleWeights = (0 ..< 37).map { _ in Float.random(in: 0.5 ..< 2, using: &rng) }
        let classWeights: [Float] = [1, 2, 0.5, 1.5]
        let source = try LocalGradientSource(shards: [shard(data, labels, 0 ..< 37, weights: sampleWeights)], classCount: 4,
                                             classWeights: classWeights, threads: 2, blockRows: 8)
        let objective = try SoftmaxObjective(source: source, l2: 0.03)
        let x = randomPoint(count: objective.parameterCount, seed: 2)
        let ours = try await objective.evaluate(x)
        let reference = referenceObjective(x, data: data, labels: labels, classCount: 4, l2: 0.03,
                                           sampleWeights: sampleWeights, classWeights: classWeights)
        // float32 logits and GEMMs: about 1e-6 relative agreement with float64 is what float32 allows.
        #expect(abs(ours.value - reference.0) <= 1e-5 * abs(reference.0))
        // Central differences in float64, h = 1e-5: truncation O(h²) ≈ 1e-10, rounding ≈ 1e-16/h ≈ 1e-11.
        let h = 1e-5
        for i in 0 ..< x.count {
            var plus = x, minus = x
            plus[i] += h
            minus[i] -= h
            let fd = (referenceObjective(plus, data: data, labels: labels, classCount: 4, l2: 0.03, sampleWeights: sampleWeights,
                                         classWeights: classWeights).0
                - referenceObjective(minus, data: data, labels: labels, classCount: 4, l2: 0.03, sampleWeights: sampleWeights,
                                     classWeights: classWeights).0) / (2 * h)
            #expect(abs(fd - reference.1[i]) <= 1e-8, "reference gradient entry \(i)")
            // Our float32 gradient against the true derivative: float32 rounding of O(1) terms.
            #expect(abs(fd - ours.gradient[i]) <= 2e-6, "gradient entry \(i): finite difference \(fd), ours \(ours.gradient[i])")
        }
    }

    @Test func sameBitsWithOneAndThreeThreads() async throws {
        let (data, labels) = clusteredProblem(rows: 203, dimension: 9, classCount: 5, spread: 1.0, seed: 3)
        let x = ModelParameters(classCount: 5, dimension: 9, values: randomPoint(count: 50, seed: 4).map(Float.init))
        let one = try LocalGradientSource(shards: [shard(data, labels, 0 ..< 203)], classCount: 5, threads: 1, blockRows: 16)
        let three = try LocalGradientSource(shards: [shard(data, labels, 0 ..< 203)], classCount: 5, threads: 3, blockRows: 16)
        let a = try await one.evaluate(x), b = try await three.evaluate(x)
        #expect(a == b)
        #expect(a.rows == 203)
    }

    @Test func sameBitsWithOneAndFourShardsOnBlockBoundaries() async throws {
        let (data, labels) = clusteredProblem(rows: 203, dimension: 9, classCount: 5, spread: 1.0, seed: 5)
        let x = ModelParameters(classCount: 5, dimension: 9, values: randomPoint(count: 50, seed: 6).map(Float.init))
        let whole = try LocalGradientSource(shards: [shard(data, labels, 0 ..< 203)], classCount: 5, threads: 2, blockRows: 16)
        let split = try LocalGradientSource(
            shards: [shard(data, labels, 0 ..< 48), shard(data, labels, 48 ..< 64), shard(data, labels, 64 ..< 160),
                     shard(data, labels, 160 ..< 203)],
            classCount: 5, threads: 3, blockRows: 16)
        #expect(try await whole.evaluate(x) == split.evaluate(x))
        // Two processes each holding half, with their global row offsets, reduce to the same bits too.
        let firstHalf = try LocalGradientSource(shards: [shard(data, labels, 0 ..< 96)], classCount: 5, threads: 1, blockRows: 16)
        let secondHalf = try LocalGradientSource(shards: [shard(data, labels, 96 ..< 203)], classCount: 5, threads: 2,
                                                 blockRows: 16, firstGlobalRow: 96)
        #expect(try await secondHalf.evaluate(x) + firstHalf.evaluate(x) == whole.evaluate(x))
    }

    @Test func unalignedShardsDifferOnlyByFloat32Rounding() async throws {
        let (data, labels) = clusteredProblem(rows: 100, dimension: 7, classCount: 3, spread: 1.0, seed: 7)
        let x = ModelParameters(classCount: 3, dimension: 7, values: randomPoint(count: 24, seed: 8).map(Float.init))
        let whole = try await LocalGradientSource(shards: [shard(data, labels, 0 ..< 100)], classCount: 3, blockRows: 32).evaluate(x)
        let split = try await LocalGradientSource(shards: [shard(data, labels, 0 ..< 37), shard(data, labels, 37 ..< 100)],
                                                  classCount: 3, blockRows: 32).evaluate(x)
        #expect(abs(whole.lossSum - split.lossSum) <= 1e-5 * whole.lossSum)
        for (a, b) in zip(whole.gradient, split.gradient) { #expect(abs(a - b) <= 1e-4) }
    }

    @Test func lossSumIsInfiniteWhenLogitsOverflow() async throws {
        let (data, labels) = clusteredProblem(rows: 10, dimension: 3, classCount: 2, spread: 1.0, seed: 10)
        let source = try LocalGradientSource(shards: [shard(data, labels, 0 ..< 10)], classCount: 2, threads: 1)
        let huge = ModelParameters(classCount: 2, dimension: 3, values: [3e38, -3e38, 3e38, -3e38, 3e38, -3e38, 0, 0])
        let result = try await source.evaluate(huge)
        #expect(!result.isFinite)
        #expect(result.lossSum == .infinity)
    }

    @Test func l2MapsToScikitLearnC() {
        #expect(SoftmaxObjective.scikitLearnC(l2: 1e-4, rows: 50_000) == 0.2)
        #expect(SoftmaxObjective.l2(scikitLearnC: 0.2, rows: 50_000) == 1e-4)
    }
}

@Suite struct FastExpTests {
    @Test func fastExpIsWithinTwoUlpOfExpOnTheSoftmaxRange() {
        // Every 1/1024 from −87 to 0, plus the ends: the range of z − max(z) that matters.
        var worst = 0.0
        for i in 0 ... 87 * 1024 {
            let x = -Float(i) / 1024
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(fastExp(x)) - exact) / exact)
        }
        // 2 ulp of float32 relative: 2 · 2⁻²³ ≈ 2.4e-7.
        #expect(worst <= 2.4e-7, "worst relative error \(worst)")
        #expect(fastExp(0) == 1)
        #expect(fastExp(-1000) < 1e-37 && fastExp(-.infinity) < 1e-37)
    }
}

@Suite struct LossAndGradientSerializationTests {
    @Test func serializedPartialsDecodeToEqualValues() async throws {
        let (data, labels) = clusteredProblem(rows: 50, dimension: 4, classCount: 3, spread: 1.0, seed: 30)
        let x = ModelParameters(classCount: 3, dimension: 4, values: (0 ..< 15).map { Float($0 % 5) - 2 })
        let partial = try await LocalGradientSource(shards: [shard(data, labels, 0 ..< 50)], classCount: 3).evaluate(x)
        let bytes = partial.serialized()
        #expect(LossAndGradient(serialized: bytes) == partial)
        #expect(LossAndGradient(serialized: Array(bytes.dropLast())) == nil)
        // Negative fixed-point values survive the two's-complement encoding.
        #expect(partial.fixedPointGradient.contains { $0 < 0 })
    }
}
