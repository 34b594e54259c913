import Foundation
import Testing
import TailForgeNumerics
@testable import TailForgeTraining

@Suite struct SoftmaxTrainerTests {
    @Test func optimumSatisfiesTheFirstOrderCondition() async throws {
        let (data, labels) = clusteredProblem(rows: 120, dimension: 5, classCount: 3, spread: 1.5, seed: 11)
        let source = try LocalGradientSource(shards: [shard(data, labels, 0 ..< 120)], classCount: 3, threads: 2, blockRows: 32)
        let settings = TrainingSettings(l2: 0.01, optimizer: LBFGSSettings(maxIterations: 300, gradientTolerance: 1e-6, lossTolerance: 0))
        let result = try await SoftmaxTrainer.train(source: source, settings: settings)
        #expect(result.report.converged)
        let x = result.model.parameters.values.map(Double.init)
        let g0 = referenceObjective([Double](repeating: 0, count: x.count), data: data, labels: labels, classCount: 3, l2: 0.01).1
        let g = referenceObjective(x, data: data, labels: labels, classCount: 3, l2: 0.01).1
        let norm = { (v: [Double]) in v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        // The optimiser stops at 1e-6 of ‖g₀‖ on its float32 objective; rounding the weights to float32 and the
        // float32 GEMMs move the float64 gradient by ≈ 1e-7 relative, so 1e-4 of ‖g₀‖ is a safe bound.
        #expect(norm(g) <= 1e-4 * norm(g0), "‖∇f‖ = \(norm(g)), ‖∇f₀‖ = \(norm(g0))")
    }

    @Test func separableProblemIsLearnedPerfectly() async throws {
        let (data, labels) = clusteredProblem(rows: 200, dimension: 8, classCount: 4, spread: 0.2, seed: 12)
        let source = try LocalGradientSource(shards: [shard(data, labels, 0 ..< 200)], classCount: 4, blockRows: 64)
        let result = try await SoftmaxTrainer.train(source: source, settings: TrainingSettings(l2: 1e-4))
        #expect(try result.model.predict(data) == labels)
    }

    @Test func trainedModelIsIdenticalAcrossThreadsAndShardSplits() async throws {
        let (data, labels) = clusteredProblem(rows: 160, dimension: 6, classCount: 4, spread: 1.0, seed: 13)
        let settings = TrainingSettings(l2: 1e-3, optimizer: LBFGSSettings(maxIterations: 20))
        let one = try await SoftmaxTrainer.train(
            source: LocalGradientSource(shards: [shard(data, labels, 0 ..< 160)], classCount: 4, threads: 1, blockRows: 16),
            settings: settings)
        let many = try await SoftmaxTrainer.train(
            source: LocalGradientSource(shards: [shard(data, labels, 0 ..< 32), shard(data, labels, 32 ..< 80),
                                                 shard(data, labels, 80 ..< 96), shard(data, labels, 96 ..< 160)],
                                        classCount: 4, threads: 3, blockRows: 16),
            settings: settings)
        #expect(one.model == many.model)
        #expect(one.report == many.report.with(seconds: one.report.seconds))
    }

    @Test func balancedClassWeightsAreInverseFrequencies() throws {
        let weights = try ClassWeighting.balanced.weights(classCounts: [10, 30, 0, 60])
        #expect(weights == [2.5, Float(100.0 / 120.0), 0, Float(100.0 / 240.0)])
        #expect(try ClassWeighting.none.weights(classCounts: [1, 2]) == nil)
    }
}

extension LBFGSReport {
    func with(seconds: Double) -> LBFGSReport {
        var copy = self
        copy.seconds = seconds
        return copy
    }
}
