import Testing
import TailForgeNumerics
@testable import TailForgeTraining

@Suite struct BadInputTests {
    let data = Matrix(rows: 3, columns: 2, storage: [1, 0, 0, 1, 0.6, 0.8])

    @Test func emptyShardIsRefused() {
        #expect(throws: TrainingError.emptyShard(shard: "a.h5")) {
            try TrainingShard(name: "a.h5", embeddings: Matrix(rows: 0, columns: 4), labels: [])
        }
    }

    @Test func nonFiniteValueIsRefusedWithItsRowAndColumn() {
        var bad = data
        bad[2, 1] = .nan
        #expect(throws: TrainingError.nonFiniteValue(shard: "a.h5", row: 2, column: 1)) {
            try TrainingShard(name: "a.h5", embeddings: bad, labels: [0, 1, 0])
        }
        bad[2, 1] = .infinity
        #expect(throws: TrainingError.nonFiniteValue(shard: "a.h5", row: 2, column: 1)) {
            try TrainingShard(name: "a.h5", embeddings: bad, labels: [0, 1, 0])
        }
    }

    @Test func labelCountMismatchIsRefused() {
        #expect(throws: TrainingError.labelCountMismatch(shard: "a.h5", rows: 3, labels: 2)) {
            try TrainingShard(name: "a.h5", embeddings: data, labels: [0, 1])
        }
    }

    @Test func negativeSampleWeightIsRefused() {
        #expect(throws: TrainingError.invalidSampleWeight(shard: "a.h5", row: 1, value: -1)) {
            try TrainingShard(name: "a.h5", embeddings: data, labels: [0, 1, 0], sampleWeights: [1, -1, 1])
        }
    }

    @Test func labelOutsideTheClassesIsRefused() throws {
        let s = try TrainingShard(name: "a.h5", embeddings: data, labels: [0, 2, 1])
        #expect(throws: TrainingError.labelOutOfRange(shard: "a.h5", row: 1, label: 2, classCount: 2)) {
            try LocalGradientSource(shards: [s], classCount: 2)
        }
        let negative = try TrainingShard(name: "b.h5", embeddings: data, labels: [0, 1, -1])
        #expect(throws: TrainingError.labelOutOfRange(shard: "b.h5", row: 2, label: -1, classCount: 2)) {
            try LocalGradientSource(shards: [negative], classCount: 2)
        }
    }

    @Test func shardsOfDifferentDimensionsAreRefused() throws {
        let a = try TrainingShard(name: "a.h5", embeddings: data, labels: [0, 1, 0])
        let b = try TrainingShard(name: "b.h5", embeddings: Matrix(rows: 1, columns: 3, storage: [1, 0, 0]), labels: [0])
        #expect(throws: TrainingError.dimensionMismatch(shard: "b.h5", expected: 2, found: 3)) {
            try LocalGradientSource(shards: [a, b], classCount: 2)
        }
    }

    @Test func noShardsAndBadSettingsAreRefused() throws {
        #expect(throws: TrainingError.noShards) { try LocalGradientSource(shards: [], classCount: 2) }
        let a = try TrainingShard(name: "a.h5", embeddings: data, labels: [0, 1, 0])
        #expect(throws: TrainingError.self) { try LocalGradientSource(shards: [a], classCount: 2, threads: 0) }
        #expect(throws: TrainingError.self) { try LocalGradientSource(shards: [a], classCount: 2, classWeights: [1, .nan]) }
        #expect(throws: TrainingError.self) { try LocalGradientSource(shards: [a], classCount: 2, classWeights: [1]) }
        let source = try LocalGradientSource(shards: [a], classCount: 2)
        #expect(throws: TrainingError.self) { try SoftmaxObjective(source: source, l2: -1) }
        #expect(throws: TrainingError.self) { try LBFGSSettings(maxIterations: -1).validate() }
    }

    @Test func predictingDataOfAnotherDimensionIsRefused() {
        let model = SoftmaxModel(classCount: 2, dimension: 3, weights: [Float](repeating: 0, count: 6), bias: [0, 0])
        #expect(throws: TrainingError.dimensionMismatch(shard: "emb.h5", expected: 3, found: 2)) {
            try model.predict(data, source: "emb.h5")
        }
        #expect(throws: TrainingError.self) { try model.topK(Matrix(rows: 1, columns: 3, storage: [1, 0, 0]), k: 0) }
    }

    @Test func evaluatingLabelsOutsideTheModelIsRefused() {
        #expect(throws: TrainingError.labelOutOfRange(shard: "test.h5", row: 1, label: 5, classCount: 3)) {
            try Evaluation(predictions: [0, 1], labels: [0, 5], classCount: 3, source: "test.h5")
        }
    }
}
