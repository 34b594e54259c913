import Foundation
import Testing
import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage
@testable import TailForgeTraining
import TailForgeTestSupport

/// Every reader regenerates a compact file's synthetic rows on load, so training on a compact file and on its
/// full counterpart gives the same model file, byte for byte (the model records the set's identity, the same
/// for both layouts), and `evaluate --train` counts the same classes (their real rows, as the input has them).
@Suite struct CompactTrainingTests {
    /// Balances a long-tailed vMF problem in both layouts, as `a/balanced.h5` (full) and `b/balanced.h5`
    /// (compact): the same base name, since the model records it.
    static func balancedPair(_ dir: TemporaryDirectory, seed: UInt64 = 4) throws -> (full: String, compact: String) {
        let (data, labels) = vmfLongTail(counts: [300, 90, 30, 9, 3], dimension: 8, kappa: 8, seed: seed)
        try writeLabeledFile(dir.file("train.h5"), data, labels, classNames: ["a", "b", "c", "d", "e"])
        for sub in ["a", "b"] { try FileManager.default.createDirectory(atPath: dir.file(sub), withIntermediateDirectories: true) }
        let settings = BalanceSettings(seed: seed)
        _ = try BalanceRunner(input: InputSpec(path: dir.file("train.h5")), outputPath: dir.file("a/balanced.h5"), settings: settings, threads: 2).run()
        _ = try BalanceRunner(input: InputSpec(path: dir.file("train.h5")), outputPath: dir.file("b/balanced.h5"), settings: settings, threads: 2,
                              layout: .compact).run()
        return (dir.file("a/balanced.h5"), dir.file("b/balanced.h5"))
    }

    static let recipes: [(String, TrainingSettings, CalibrationSettings?)] = [
        ("default", TrainingSettings(l2: 1e-4, optimizer: LBFGSSettings(maxIterations: 60)), nil),
        ("class-weighted", TrainingSettings(l2: 1e-3, optimizer: LBFGSSettings(maxIterations: 40), classWeighting: .balanced), nil),
        ("calibrated", TrainingSettings(l2: 1e-4, optimizer: LBFGSSettings(maxIterations: 40)), CalibrationSettings(holdOutFraction: 0.25, seed: 1)),
    ]

    @Test(arguments: 0 ..< recipes.count)
    func aModelTrainedFromCompactIsByteIdenticalToOneFromFull(recipe: Int) async throws {
        let dir = TemporaryDirectory("training")
        let (full, compact) = try Self.balancedPair(dir)
        let (_, settings, calibration) = Self.recipes[recipe]
        let fromFull = try await TrainingRunner(inputs: [full], output: dir.file("a/model.h5"), settings: settings, threads: 2,
                                                calibration: calibration).run()
        let fromCompact = try await TrainingRunner(inputs: [compact], output: dir.file("b/model.h5"), settings: settings, threads: 1,
                                                   calibration: calibration).run()
        #expect(fromFull.rows == fromCompact.rows && fromFull.rows == 1500)
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.file("a/model.h5")))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir.file("b/model.h5")))
        #expect(a == b)
        // The model names the balanced set, not the file's bytes.
        let identity = try HDF5File.open(path: full).rootAttributes()[BalancedSetIdentity.attributeName]
        #expect(try SoftmaxModelFile.read(path: dir.file("b/model.h5")).attributes["input_sha256"] == identity)
    }

    @Test func evaluateWithACompactTrainingFileCountsTheSameClasses() async throws {
        let dir = TemporaryDirectory("training")
        let (full, compact) = try Self.balancedPair(dir)
        let (test, testLabels) = vmfLongTail(counts: [20, 20, 20, 20, 20], dimension: 8, kappa: 8, seed: 9)
        try writeLabeledFile(dir.file("test.h5"), test, testLabels)
        _ = try await TrainingRunner(inputs: [full], output: dir.file("model.h5"), settings: TrainingSettings(optimizer: LBFGSSettings(maxIterations: 10)),
                                     threads: 2).run()
        let withFull = try EvaluationRunner(model: dir.file("model.h5"), test: dir.file("test.h5"), training: full).run()
        let withCompact = try EvaluationRunner(model: dir.file("model.h5"), test: dir.file("test.h5"), training: compact).run()
        let withInput = try EvaluationRunner(model: dir.file("model.h5"), test: dir.file("test.h5"), training: dir.file("train.h5")).run()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(withFull) == encoder.encode(withCompact))
        // Only real rows count: the balanced files (every class topped up to 300 rows) give the long tail's groups,
        // as the input they were made from does, not five many-shot classes.
        #expect(try encoder.encode(withFull) == encoder.encode(withInput))
        #expect(withFull.perClass.map(\.trainingSamples) == [300, 90, 30, 9, 3])
        #expect(withFull.perClass.map(\.group) == [.many, .medium, .medium, .few, .few])
    }

    /// The cluster's training path and the benchmarks load shards through `TrainingShard.load`.
    @Test func aShardLoadedFromACompactFileHoldsTheFullFilesUnitRows() throws {
        let dir = TemporaryDirectory("training")
        let (full, compact) = try Self.balancedPair(dir, seed: 7)
        let a = try TrainingShard.load(path: full), b = try TrainingShard.load(path: compact)
        #expect(a.embeddings == b.embeddings && a.labels == b.labels)
    }
}
