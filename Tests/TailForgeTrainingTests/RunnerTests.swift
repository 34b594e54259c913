import Foundation
import Testing
import TailForgeNumerics
import TailForgeStorage
@testable import TailForgeTraining
import TailForgeTestSupport

/// Writes /embeddings and /labels (and /class_names when given) as the input contract.
func writeLabeledFile(_ path: String, _ m: Matrix, _ labels: [Int32], classNames: [String]? = nil) throws {
    let writer = try AtomicHDF5Writer(path: path)
    try writer.writeDataset("embeddings", values: m.storage, shape: [m.rows, m.columns])
    try writer.writeDataset("labels", values: labels, shape: [labels.count])
    if let classNames { try writer.writeStrings("class_names", classNames) }
    try writer.commit()
}

@Suite struct RunnerTests {
    let settings = TrainingSettings(l2: 1e-3, optimizer: LBFGSSettings(maxIterations: 30))

    /// Train/test split of a 4-class separable problem, written to `dir`.
    func writeProblem(_ dir: TemporaryDirectory, classNames: [String]? = nil) throws -> (train: String, test: String, Matrix, [Int32]) {
        let (data, labels) = clusteredProblem(rows: 240, dimension: 6, classCount: 4, spread: 0.3, seed: 21)
        try writeLabeledFile(dir.file("train.h5"), data.gatherRows(0 ..< 200), Array(labels[0 ..< 200]), classNames: classNames)
        try writeLabeledFile(dir.file("test.h5"), data.gatherRows(200 ..< 240), Array(labels[200 ..< 240]), classNames: classNames)
        return (dir.file("train.h5"), dir.file("test.h5"), data, labels)
    }

    @Test func trainWritesAModelThatReadsBackWithItsProvenance() async throws {
        let dir = TemporaryDirectory("training")
        let (train, _, data, labels) = try writeProblem(dir, classNames: ["a", "b", "c", "d"])
        let summary = try await TrainingRunner(inputs: [train], output: dir.file("model.h5"), settings: settings, threads: 2,
                                               blockRows: 32).run()
        let loaded = try SoftmaxModelFile.read(path: dir.file("model.h5"))
        // Same as training in memory on the same rows, scaled to unit length, with the same blocks.
        var unit = data
        try RowNormalization.normalizeRows(&unit)
        let source = try LocalGradientSource(shards: [shard(unit, labels, 0 ..< 200)], classCount: 4, blockRows: 32)
        let direct = try await SoftmaxTrainer.train(source: source, settings: settings)
        #expect(loaded.model == direct.model)
        #expect(loaded.classNames == ["a", "b", "c", "d"])
        #expect(loaded.attributes["format"] == .string(SoftmaxModelFile.format))
        #expect(loaded.attributes["input_sha256"] == .string(try SHA256.hexDigest(ofFileAt: train)))
        #expect(loaded.attributes["iterations"] == .int(Int64(summary.report.iterations)))
        #expect(loaded.attributes["final_loss"] == .double(summary.report.finalLoss))
        #expect(loaded.attributes["l2"] == .double(1e-3))
        #expect(loaded.attributes["input_normalization"] == .string("l2"))
        #expect(summary.rows == 200 && summary.classCount == 4)
    }

    @Test func modelBytesAreIdenticalWithOneAndThreeThreadsAndWeightsWithTwoShards() async throws {
        let dir = TemporaryDirectory("training")
        let (train, _, data, labels) = try writeProblem(dir)
        _ = try await TrainingRunner(inputs: [train], output: dir.file("one.h5"), settings: settings, threads: 1, blockRows: 16).run()
        _ = try await TrainingRunner(inputs: [train], output: dir.file("three.h5"), settings: settings, threads: 3, blockRows: 16).run()
        #expect(FileManager.default.contents(atPath: dir.file("one.h5")) == FileManager.default.contents(atPath: dir.file("three.h5")))
        try writeLabeledFile(dir.file("part1.h5"), data.gatherRows(0 ..< 64), Array(labels[0 ..< 64]))
        try writeLabeledFile(dir.file("part2.h5"), data.gatherRows(64 ..< 200), Array(labels[64 ..< 200]))
        _ = try await TrainingRunner(inputs: [dir.file("part1.h5"), dir.file("part2.h5")], output: dir.file("two.h5"),
                                     settings: settings, threads: 2, blockRows: 16).run()
        #expect(try SoftmaxModelFile.read(path: dir.file("two.h5")).model == SoftmaxModelFile.read(path: dir.file("one.h5")).model)
    }

    @Test func evaluateAndPredictAgree() async throws {
        let dir = TemporaryDirectory("training")
        let (train, test, data, labels) = try writeProblem(dir)
        _ = try await TrainingRunner(inputs: [train], output: dir.file("model.h5"), settings: settings).run()
        let evaluation = try EvaluationRunner(model: dir.file("model.h5"), test: test, training: train).run()
        #expect(evaluation.samples == 40)
        #expect(evaluation.top1Accuracy == 1)
        // 50 training rows per class: all four classes are medium-shot.
        #expect(evaluation.groups?.map(\.classes) == [0, 4, 0])
        try PredictionRunner(model: dir.file("model.h5"), input: test, output: dir.file("pred.h5"), k: 3).run()
        let file = try HDF5File.open(path: dir.file("pred.h5"))
        let top = try file.readDataset("top_k_labels", as: Int32.self)
        let probabilities = try file.readDataset("top_k_probabilities", as: Float.self)
        let top1 = try file.readDataset("labels", as: Int32.self)
        #expect(top.shape == [40, 3] && probabilities.shape == [40, 3])
        #expect(top1.values == Array(labels[200 ..< 240]))
        let model = try SoftmaxModelFile.read(path: dir.file("model.h5")).model
        var unit = data.gatherRows(200 ..< 240)
        try RowNormalization.normalizeRows(&unit)
        #expect(try model.topK(unit, k: 3).probabilities == probabilities.values)
        #expect(try file.rootAttributes()["format"] == .string(PredictionRunner.format))
    }

    // MARK: - Bad input

    @Test func aModelFileFromAnotherToolIsRefused() throws {
        let dir = TemporaryDirectory("training")
        let writer = try AtomicHDF5Writer(path: dir.file("other.h5"))
        try writer.writeAttributes(["format": .string("sklearn-pickle-export")])
        try writer.writeDataset("weights", values: [Float](repeating: 0, count: 6), shape: [2, 3])
        try writer.writeDataset("bias", values: [Float](repeating: 0, count: 2), shape: [2])
        try writer.commit()
        #expect(throws: ModelFileError.notATailForgeModel(path: dir.file("other.h5"), format: "sklearn-pickle-export")) {
            try SoftmaxModelFile.read(path: dir.file("other.h5"))
        }
        try writeLabeledFile(dir.file("data.h5"), Matrix(rows: 1, columns: 3, storage: [1, 0, 0]), [0])
        #expect(throws: ModelFileError.notATailForgeModel(path: dir.file("data.h5"), format: nil)) {
            try EvaluationRunner(model: dir.file("data.h5"), test: dir.file("data.h5")).run()
        }
    }

    @Test func dataOfAnotherDimensionThanTheModelIsRefused() async throws {
        let dir = TemporaryDirectory("training")
        let (train, _, _, _) = try writeProblem(dir)
        _ = try await TrainingRunner(inputs: [train], output: dir.file("model.h5"), settings: settings).run()
        try writeLabeledFile(dir.file("wide.h5"), Matrix(rows: 2, columns: 7, repeating: 0.5), [0, 1])
        let mismatch = ModelFileError.dimensionMismatch(model: dir.file("model.h5"), modelDimension: 6, data: dir.file("wide.h5"), dataDimension: 7)
        #expect(throws: mismatch) {
            try EvaluationRunner(model: dir.file("model.h5"), test: dir.file("wide.h5")).run()
        }
        #expect(!mismatch.description.contains("shard"))
        #expect(throws: mismatch) {
            try PredictionRunner(model: dir.file("model.h5"), input: dir.file("wide.h5"), output: dir.file("p.h5")).run()
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("p.h5")))
    }

    @Test func testLabelsOutsideTheModelsClassesAreRefused() async throws {
        let dir = TemporaryDirectory("training")
        let (train, _, _, _) = try writeProblem(dir)
        _ = try await TrainingRunner(inputs: [train], output: dir.file("model.h5"), settings: settings).run()
        try writeLabeledFile(dir.file("test.h5"), Matrix(rows: 2, columns: 6, repeating: 0.4), [1, 4])
        let asTest = TrainingError.labelOutOfRange(shard: "test file " + dir.file("test.h5"), row: 1, label: 4, classCount: 4)
        #expect(throws: asTest) {
            try EvaluationRunner(model: dir.file("model.h5"), test: dir.file("test.h5")).run()
        }
        // Messages name a test file as a test file, never as a "shard".
        #expect(asTest.description.hasPrefix("test file \(dir.file("test.h5")) row 1 has label 4"))
    }

    /// `evaluate --train` with a training file of another class count than the model (fewer classes, more, or other
    /// /class_names) is refused before any scoring, naming both counts, and writes no report.
    @Test func aTrainingFileWithAnotherClassCountIsRefused() async throws {
        let dir = TemporaryDirectory("training")
        let (train, test, _, _) = try writeProblem(dir)
        _ = try await TrainingRunner(inputs: [train], output: dir.file("model.h5"), settings: settings).run()
        let rows = Matrix(rows: 3, columns: 6, repeating: 0.4)
        try writeLabeledFile(dir.file("three.h5"), rows, [0, 2, 1])
        try writeLabeledFile(dir.file("five.h5"), rows, [1, 4, 0])
        try writeLabeledFile(dir.file("named.h5"), rows, [0, 1, 2], classNames: ["a", "b", "c", "d", "e", "f"])
        for (file, classes) in [("three.h5", 3), ("five.h5", 5), ("named.h5", 6)] {
            let mismatch = ModelFileError.classCountMismatch(model: dir.file("model.h5"), modelClasses: 4, training: dir.file(file), trainingClasses: classes)
            #expect(throws: mismatch) {
                try EvaluationRunner(model: dir.file("model.h5"), test: test, training: dir.file(file), jsonOutput: dir.file("report.json")).run()
            }
            #expect(mismatch.description.hasPrefix("the training file \(dir.file(file)) has \(classes) classes, but the model \(dir.file("model.h5")) has 4"))
            #expect(mismatch.description.contains("pass with --train the training file the model was trained on"))
            #expect(!FileManager.default.fileExists(atPath: dir.file("report.json")))
        }
    }

    @Test func anEmptyShardIsRefused() async throws {
        let dir = TemporaryDirectory("training")
        let (train, _, _, _) = try writeProblem(dir)
        try writeLabeledFile(dir.file("empty.h5"), Matrix(rows: 0, columns: 6), [])
        await #expect(throws: TrainingError.emptyShard(shard: dir.file("empty.h5"))) {
            _ = try await TrainingRunner(inputs: [train, dir.file("empty.h5")], output: dir.file("model.h5"), settings: settings).run()
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("model.h5")))
    }

    /// One file names 2 classes, the other names none and labels 4: both model types refuse the first label past the
    /// named classes with its file and row (the softmax trainer indexed its class counts with it and crashed).
    @Test func aLabelBeyondTheNamedClassesIsRefusedWithItsFileAndRow() async throws {
        let dir = TemporaryDirectory("training")
        let (train, _, data, labels) = try writeProblem(dir)
        let named = (0 ..< 200).filter { labels[$0] < 2 }
        try writeLabeledFile(dir.file("named.h5"), data.gatherRows(named), named.map { labels[$0] }, classNames: ["a", "b"])
        let bad = labels.firstIndex { $0 >= 2 }!
        let expected = TrainingError.labelOutOfRange(shard: train, row: bad, label: labels[bad], classCount: 2)
        await #expect(throws: expected) {
            _ = try await TrainingRunner(inputs: [dir.file("named.h5"), train], output: dir.file("model.h5"), settings: settings).run()
        }
        await #expect(throws: expected) {
            _ = try await VMFMixtureTrainingRunner(inputs: [dir.file("named.h5"), train], output: dir.file("model.h5"),
                                                   settings: VMFMixtureSelectionSettings(maxModesGrid: [1], priorConcentrationMultiples: [1], folds: 2),
                                                   threads: 1).run()
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("model.h5")))
    }

    @Test func nonFiniteValuesAreRefusedWithTheirRow() async throws {
        let dir = TemporaryDirectory("training")
        let (train, _, _, _) = try writeProblem(dir)
        var bad = Matrix(rows: 3, columns: 6, repeating: 0.4)
        bad[2, 5] = .nan
        try writeLabeledFile(dir.file("bad.h5"), bad, [0, 1, 2])
        await #expect(throws: StorageError.badRow(file: dir.file("bad.h5"), dataset: "embeddings", row: 2, reason: "has a NaN or infinite value at column 5")) {
            _ = try await TrainingRunner(inputs: [train, dir.file("bad.h5")], output: dir.file("model.h5"), settings: settings).run()
        }
        _ = try await TrainingRunner(inputs: [train], output: dir.file("model.h5"), settings: settings).run()
        #expect(throws: StorageError.badRow(file: dir.file("bad.h5"), dataset: "embeddings", row: 2, reason: "has a NaN or infinite value at column 5")) {
            try EvaluationRunner(model: dir.file("model.h5"), test: dir.file("bad.h5")).run()
        }
        #expect(throws: StorageError.badRow(file: dir.file("bad.h5"), dataset: "embeddings", row: 2, reason: "has a NaN or infinite value at column 5")) {
            try PredictionRunner(model: dir.file("model.h5"), input: dir.file("bad.h5"), output: dir.file("p.h5")).run()
        }
    }

    @Test func shardsOfDifferentDimensionsAreRefusedBeforeLoading() async throws {
        let dir = TemporaryDirectory("training")
        let (train, _, _, _) = try writeProblem(dir)
        try writeLabeledFile(dir.file("wide.h5"), Matrix(rows: 2, columns: 7, repeating: 0.5), [0, 1])
        await #expect(throws: TrainingError.dimensionMismatch(shard: dir.file("wide.h5"), expected: 6, found: 7)) {
            _ = try await TrainingRunner(inputs: [train, dir.file("wide.h5")], output: dir.file("model.h5"), settings: settings).run()
        }
    }
}
