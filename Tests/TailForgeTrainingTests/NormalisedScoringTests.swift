import Foundation
import Testing
import TailForgeNumerics
import TailForgeStorage
@testable import TailForgeTraining
import TailForgeTestSupport

/// Every command works on unit rows: a test set multiplied by any positive per-row factors (raw CLIP-like
/// features have norm ≈ 20) gets the same predictions, and training on raw rows gives the model of their unit rows.
@Suite struct NormalisedScoringTests {
    let settings = TrainingSettings(l2: 1e-3, optimizer: LBFGSSettings(maxIterations: 30))

    /// Writes `m` with each row multiplied by `scales[i]` as float64 (the precision numpy users save in).
    /// float64 keeps the scaled copy within one Double ulp of the exact multiple, far below a Float ulp, so
    /// the unit rows — and everything computed from them — come out bit-identical.
    func writeScaled(_ path: String, _ m: Matrix, _ labels: [Int32], scales: [Double]) throws {
        var values = [Double]()
        for i in 0 ..< m.rows { values += m.row(i).map { Double($0) * scales[i] } }
        let writer = try AtomicHDF5Writer(path: path)
        try writer.writeDataset("embeddings", values: values, shape: [m.rows, m.columns])
        try writer.writeDataset("labels", values: labels, shape: [labels.count])
        try writer.commit()
    }

    func datasets(_ path: String) throws -> [[UInt8]] {
        let file = try HDF5File.open(path: path)
        let labels = try file.readDataset("labels", as: Int32.self).values
        let top = try file.readDataset("top_k_labels", as: Int32.self).values
        let probabilities = try file.readDataset("top_k_probabilities", as: Float.self).values
        return [labels.withUnsafeBytes { Array($0) }, top.withUnsafeBytes { Array($0) }, probabilities.withUnsafeBytes { Array($0) }]
    }

    @Test func predictionsAreByteIdenticalAtAnyRowScale() async throws {
        let dir = TemporaryDirectory("training")
        let (data, labels) = clusteredProblem(rows: 240, dimension: 6, classCount: 4, spread: 0.6, seed: 8)
        try writeLabeledFile(dir.file("train.h5"), data.gatherRows(0 ..< 200), Array(labels[0 ..< 200]))
        _ = try await TrainingRunner(inputs: [dir.file("train.h5")], output: dir.file("model.h5"), settings: settings).run()
        let test = data.gatherRows(200 ..< 240), testLabels = Array(labels[200 ..< 240])
        var rng = Xoshiro256PlusPlus(seed: 3, stream: 0)
        let cases: [(String, [Double])] = [
            ("x1", [Double](repeating: 1, count: 40)),
            ("x20", [Double](repeating: 20, count: 40)),
            ("x0.1", [Double](repeating: 0.1, count: 40)),
            ("random", (0 ..< 40).map { _ in exp(Double.random(in: -20 ... 20, using: &rng)) }),
        ]
        var results: [String: [[UInt8]]] = [:]
        var accuracies: [String: Double] = [:]
        for (name, scales) in cases {
            let input = dir.file("test-\(name).h5")
            try writeScaled(input, test, testLabels, scales: scales)
            try PredictionRunner(model: dir.file("model.h5"), input: input, output: dir.file("pred-\(name).h5"), k: 3).run()
            results[name] = try datasets(dir.file("pred-\(name).h5"))
            accuracies[name] = try EvaluationRunner(model: dir.file("model.h5"), test: input).run().top1Accuracy
        }
        for (name, _) in cases {
            #expect(results[name] == results["x1"], "\(name) scaling changed the predictions")
            #expect(accuracies[name] == accuracies["x1"], "\(name) scaling changed the accuracy")
        }
    }

    @Test func trainingOnRawRowsGivesTheModelOfTheirUnitRows() async throws {
        let dir = TemporaryDirectory("training")
        let (data, labels) = clusteredProblem(rows: 200, dimension: 6, classCount: 4, spread: 0.6, seed: 9)
        var rng = Xoshiro256PlusPlus(seed: 4, stream: 0)
        try writeScaled(dir.file("raw.h5"), data, labels, scales: (0 ..< 200).map { _ in exp(Double.random(in: -5 ... 5, using: &rng)) })
        try writeScaled(dir.file("unit.h5"), data, labels, scales: [Double](repeating: 1, count: 200))
        _ = try await TrainingRunner(inputs: [dir.file("raw.h5")], output: dir.file("raw-model.h5"), settings: settings).run()
        _ = try await TrainingRunner(inputs: [dir.file("unit.h5")], output: dir.file("unit-model.h5"), settings: settings).run()
        let raw = try SoftmaxModelFile.read(path: dir.file("raw-model.h5"))
        #expect(raw.model == (try SoftmaxModelFile.read(path: dir.file("unit-model.h5")).model))
        #expect(raw.attributes["input_normalization"] == .string("l2"))
    }

    @Test func aModelExpectingAnotherInputTransformIsRefused() throws {
        let dir = TemporaryDirectory("training")
        let writer = try AtomicHDF5Writer(path: dir.file("model.h5"))
        try writer.writeAttributes(["format": .string(SoftmaxModelFile.format), "format_version": .int(2),
                                    "class_count": .int(2), "dimension": .int(2), "input_normalization": .string("standardize")])
        try writer.writeDataset("weights", values: [Float](repeating: 0, count: 4), shape: [2, 2])
        try writer.writeDataset("bias", values: [Float](repeating: 0, count: 2), shape: [2])
        try writer.commit()
        #expect(throws: ModelFileError.unsupportedInputNormalization(path: dir.file("model.h5"), value: "standardize")) {
            try SoftmaxModelFile.read(path: dir.file("model.h5"))
        }
    }
}
